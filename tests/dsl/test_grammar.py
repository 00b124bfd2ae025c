"""The grammar itself: conflict-free LALR, cached tables in sync, lark kept
inside the dsl package."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from chatflow.dsl import parser, tables

DSL = Path(parser.__file__).parent


def test_grammar_has_no_lalr_conflicts(caplog: pytest.LogCaptureFixture) -> None:
    from lark import Lark, logger

    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG, logger="lark"):
            Lark((DSL / "flow.lark").read_text(), parser="lalr", start=list(parser.STARTS),
                 maybe_placeholders=True, debug=True)
    finally:
        logger.setLevel(old)
    conflicts = [r.getMessage() for r in caplog.records if "conflict" in r.getMessage().lower()]
    assert conflicts == []


def test_cached_tables_match_the_grammar() -> None:
    """`flow_tables.json` must be regenerated when flow.lark changes:
    python -c 'from chatflow.dsl.tables import write_tables; write_tables()'"""
    doc = json.loads((DSL / "flow_tables.json").read_text())
    assert json.loads(doc["lark"])["key"] == tables._tables_key()
    assert doc["fast"]["grammar"] == (DSL / "flow.lark").read_text()


def test_loaded_tables_parse_like_a_fresh_build() -> None:
    text = (DSL.parents[2] / "examples" / "feature.flow").read_text()
    b1, b2 = parser._Builder(), parser._Builder()
    b1.reset("f.flow", None)
    b2.reset("f.flow", None)
    loaded = tables._load_tables(b1)
    assert loaded is not None
    fresh = tables._build(b2)
    assert loaded.parse(text, start="module") == fresh.parse(text, start="module")


def test_no_module_outside_dsl_imports_lark() -> None:
    src = DSL.parent
    offenders = [
        str(p.relative_to(src)) for p in src.rglob("*.py")
        if p.parent != DSL and ("import lark" in p.read_text() or "from lark" in p.read_text())
    ]
    assert offenders == []
