"""Checker semantics: the §1 example, types, optional results, read-before-run
exceptions, cascades, ordering and recursion."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatflow.compiler.check import check_program
from chatflow.compiler.loader import load_program
from chatflow.compiler.types import BOOL, FLOAT, INT, STR
from chatflow.diagnostics import Diagnostic

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def check(tmp_path: Path, src: str) -> list[Diagnostic]:
    path = tmp_path / "t.flow"
    path.write_text(src, encoding="utf-8")
    program, diags = load_program(str(path))
    return diags + check_program(program)[1]


def codes(tmp_path: Path, body: str, sig: str = "f(a: str, n: int = 1) -> (r: bool)",
          out: str = "output r = true") -> list[str]:
    src = f"flow {sig} {{\n{body}\n  {out}\n}}\n"
    return [d.code for d in check(tmp_path, src) if d.is_error]


@pytest.mark.parametrize("name", ["feature.flow", "feature.yaml"])
def test_language_example_has_no_errors(name: str) -> None:
    program, diags = load_program(str(EXAMPLES / name))
    checked, more = check_program(program)
    all_diags = diags + more
    assert [d for d in all_diags if d.is_error] == []
    assert [d.code for d in all_diags] == []  # the examples lint without warnings
    syms = checked.symbols["feature"]
    assert syms.field_type("unit", "coverage") == FLOAT
    assert syms.field_type("review", "approved") == BOOL.as_optional()
    assert syms.field_type("fix", "fixed") == BOOL.as_optional()  # call output, guarded
    assert syms.field_type("checks", "ok") == BOOL
    graph = checked.graphs["feature"]
    assert graph.deps["review"] == ("checks",)
    assert graph.runs_after("review", "unit")


@pytest.mark.parametrize(("expr", "ok"), [
    ("1 + 2.5 > 1", True),            # int widens to float
    ("5 / 2 == 2.5", True),            # int / int is a float
    ("5 % 2 == 1", True),
    ("5.0 % 2 == 1", False),           # `%` is for ints
    ('"a" + "b" == "ab"', True),
    ("[1] + [2] == [1, 2]", True),
    ("1m + 30s > 1m", True),
    ('1 + "a" == "1a"', False),
    ('1 == "1"', False),               # unrelated types
    ('"x" in ["x", "y"]', True),
    ('"k" in {k: 1}', True),
    ('"ab" in a', True),
    ("1 in a", False),
    ("not a", False),
    ("a and true", False),
    ('json(a).x.y[0] == 1', True),     # json is dynamic
    ('contains(a, "x") and startswith(a, "x") and matches(a, "x+")', True),
    ('matches(a, "(")', False),       # invalid regex
    ("len(n) > 0", False),
    ('int("3") + float("1.5") > 0', True),
    ("lower(a) == upper(a) and trim(a) == str(n)", True),
    ("ctx.attempt >= 1 and ctx.depth == 0 and ctx.instance_id != a", True),
    ("[1, 2][0] == 1", True),
    ('[1, "a"] == []', False),         # list items of one type
    ("null == null", True),
    ("-n < 0", True),
    ("-a == a", False),
    ('(if n > 0 then a else "z") == a', True),
    ("if n > 0 then true else false", True),
    ("if a then true else false", False),            # the condition must be bool
    ('(if n > 0 then 1 else "x") == 1', False),      # branches of one type
    ("(if n > 0 then 1 else 2.5) > 1", True),        # int widens to float
    ("(if n > 0 then a else null) == a", True),      # a `str?`
    ('len(split(a, ",")) + len(lines(a)) > 0', True),
    ('join(split(a, ","), ";") == replace(a, ",", ";")', True),
    ('(match(a, "x([0-9]+)") ?? "") == (env("HOME") ?? "")', True),
    ('match(a, "x") == a', True),                    # `str?` compares with `str`
    ('len(match(a, "x")) > 0', False),               # may be null
    ('join([1, 2], ",") == a', False),
    ("split(a) == []", False),
    ('match(a, "(") == a', False),                   # invalid regex
    ("replace(a, n, a) == a", False),
])
def test_expression_types(tmp_path: Path, expr: str, ok: bool) -> None:
    errors = codes(tmp_path, f'  step s when {expr}: shell "{{a}}{{n}}"')
    assert (errors == []) is ok, errors


def test_optional_needs_coalesce(tmp_path: Path) -> None:
    body = '  step s when a == "x": shell "{a}{n}"\n  step t after s: shell "x"'
    assert codes(tmp_path, body, out="output r = s.ok") == ["E0302"]
    assert codes(tmp_path, body, out="output r = s.ok ?? false") == []
    # a member of a guarded group is optional too; a dependent of a guarded step is not
    grouped = ('  phase p when a == "x" { step s: shell "{n}" }\n'
               '  step t: shell "x"\n  step u after t: shell "y"')
    assert codes(tmp_path, grouped, out="output r = s.ok") == ["E0302"]
    assert codes(tmp_path, grouped, out="output r = u.ok and t.ok") == []


def test_optional_member_access_hint(tmp_path: Path) -> None:
    src = ('flow f(a: str) -> (r: str) {\n  step s when a == "x": shell "{a}"\n'
           "  output r = s.stdout ?? \"\"\n}\n")
    assert [d.code for d in check(tmp_path, src)] == []


def test_read_before_run_exceptions(tmp_path: Path) -> None:
    body = ('  step s: shell "{a}{n}" { out m: int = len(stdout) + len(s.stderr) }\n'
            "  repeat loop max 3 until t.ok { step t: shell \"x\" }\n"
            '  step late: shell "y"')
    # `out` reads its own fields, `until` reads its body, outputs read anything
    assert codes(tmp_path, body, out="output r = late.ok and s.m > 0") == []


def test_read_before_run_errors(tmp_path: Path) -> None:
    src = ('flow f(a: str) -> (r: bool) {\n'
           '  var v: bool = s.ok\n'
           '  step s when s.ok: shell "{a}"\n'
           '  phase p when p.ok { step t: shell "{u.ok}" }\n'
           '  step u: shell "x"\n'
           "  output r = v\n}\n")
    diags = [d for d in check(tmp_path, src) if d.code == "E0405"]
    assert [d.message for d in diags] == [
        "the initial value of a var reads `s.ok` before any step runs",
        "`s` reads its own field `s.ok` before it has run",
        "`p` reads its own field `p.ok` before it has run",
        "`t` reads `u.ok` but does not run after `u`",
    ]


def test_one_unknown_name_gives_one_diagnostic(tmp_path: Path) -> None:
    src = ('flow f(a: str) -> (r: bool) {\n'
           '  step s when nope.x + 1 > nope.y and len(nope) > 0: shell "{a}"\n'
           '  step t after missing: shell "x"\n'
           '  step u when t.ok: shell "y"\n'
           "  output r = nope\n}\n")
    diags = check(tmp_path, src)
    # each use of `nope` once, nothing about what it is used for; no E0405
    # follow-ups for `u` although `t`'s order is unknown
    assert [d.code for d in diags] == ["E0201", "E0201", "E0201", "E0203", "E0201"]


def test_all_problems_in_one_pass_sorted(tmp_path: Path) -> None:
    src = ('flow f(a: str) -> (r: bool) {\n'
           '  step s: shell "{zz}" { tmeout 1s }\n'
           "  step t when 1: shell \"x\"\n"
           "  output q = true\n}\n")
    diags = check(tmp_path, src)
    assert [(d.code, d.span.line) for d in diags] == [
        ("W0101", 1), ("E0401", 1), ("E0201", 2), ("E0207", 2), ("E0307", 3), ("E0403", 4)]


def test_recursion_and_call_outputs(tmp_path: Path) -> None:
    src = ('flow f(n: int) -> (r: int) {\n'
           "  step again when n > 0: call f(n: n - 1)\n"
           "  step g: call other(x: \"s\")\n"
           "  output r = (again.r ?? 0) + 1 + len(g.y)\n}\n"
           'flow other(x: str) -> (y: str) {\n  output y = x\n}\n')
    assert check(tmp_path, src) == []


def test_types_of_fields() -> None:
    program, _ = load_program(str(EXAMPLES / "feature.flow"))
    checked, _ = check_program(program)
    syms = checked.symbols["feature"]
    assert syms.field_type("build", "exit_code") == INT
    assert syms.field_type("design", "text") == STR
    assert syms.field_type("build", "nope") is None
    assert syms.lookup("coverage_min") is not None and syms.vars == {}
