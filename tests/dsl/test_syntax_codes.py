"""`syntax_errors.CODES`: every E01xx code the `.flow` parser reports is
listed with a name and a description, and the rule catalog (SARIF, the
generated docs) takes them from there."""

from __future__ import annotations

import re
from pathlib import Path

from chatflow.diagnostic_format import known_rules, render_sarif
from chatflow.dsl import parser
from chatflow.dsl.parser import parse_flow
from chatflow.dsl.syntax_errors import CODES

DSL = Path(parser.__file__).parent


def test_codes_are_e010x_with_a_kebab_name_and_a_description() -> None:
    assert sorted(CODES) == [f"E010{i}" for i in range(10)] + ["E0116"]
    for code, (name, description) in CODES.items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", name), code
        assert description and description[0].islower(), code


def test_every_code_the_parser_can_report_is_listed() -> None:
    sources = [DSL / "parser.py", DSL / "lexical.py", DSL / "strings.py", DSL / "syntax_errors.py"]
    used = {c for p in sources for c in re.findall(r'"(E01\d\d)"', p.read_text("utf-8"))}
    assert used and used <= set(CODES), used - set(CODES)


def test_rule_catalog_takes_names_and_descriptions_from_codes() -> None:
    rules = {r.code: r for r in known_rules()}
    for code, (name, description) in CODES.items():
        assert (rules[code].name, rules[code].description, rules[code].severity) == (
            name, description, "error")


def test_sarif_names_the_rule_of_a_syntax_error() -> None:
    _module, diags = parse_flow("flow f() { step a shell \"x\" }", "e.flow")
    assert [d.code for d in diags] == ["E0101"]
    log = render_sarif(diags)
    assert '"unexpected-token"' in log
