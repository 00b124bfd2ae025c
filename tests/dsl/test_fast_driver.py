"""The fast LALR driver (`dsl.lalr`) gives exactly what lark gives: the same
AST and diagnostics for every input, whether it decides the input itself or
hands it to lark."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatflow.diagnostics import Span
from chatflow.dsl import parser
from chatflow.dsl.lalr import Fallback

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    p for d in ("examples", "src/chatflow/stdlib", "tests") for p in (ROOT / d).rglob("*.flow")
)
EXAMPLE = (ROOT / "examples" / "feature.flow").read_text()
TOKENS = re.findall(r'"(?:[^"\\\n]|\\.)*"|\w+|[^\w\s]|\s+', EXAMPLE)
FRAGMENTS = ["{", "}", "(", ")", "[", "]", '"', ":", ",", "=", "==", "??", "?", "<=", "->",
             ".", "-", "step", "when", "after", "max", "until", "in", "not", "notify", "index",
             "output", "outputs", "{x}", "{a ?? 1}", "1_", "10m", "1e5", "#c\n", "\n", "\t",
             "out", "with", "env", "cwd", "risk", "timeout", "continue_on_error", "retry",
             "'raw {x}'", "'", "'''\n  a\n  '''", '"""\n  {a} \\{\n  """', '"""',
             "if", "then", "else", "{if a then 1 else 2}", "if x then y else"]
ORIGIN = Span("p.yaml", 3, 7, 3, 7, 50, 50)
PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class _LarkOnly:
    def parse(self, text: str, start: str) -> Any:
        raise Fallback("test: lark only")


@pytest.fixture
def lark_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """Call a parse function with the fast driver switched off."""
    def run(fn: Callable[..., Any], *args: Any) -> Any:
        with monkeypatch.context() as m:
            m.setattr(parser, "get_fast", lambda b: _LarkOnly())
            return fn(*args)
    yield run


@pytest.fixture
def no_lark(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail if anything needs lark."""
    def boom(b: object) -> Any:
        raise AssertionError("lark was needed")
    monkeypatch.setattr(parser, "get_lark", boom)
    yield


def test_the_corpus_exists() -> None:
    assert len(SOURCES) >= 20


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_same_result_as_lark_on_every_source(path: Path, lark_only: Callable[..., Any]) -> None:
    text = path.read_text(encoding="utf-8")
    assert parser.parse_flow(text, str(path)) == lark_only(parser.parse_flow, text, str(path))


@pytest.mark.usefixtures("no_lark")
def test_valid_files_never_load_lark() -> None:
    for name in ("feature.flow",):
        text = (ROOT / "examples" / name).read_text(encoding="utf-8")
        module, diags = parser.parse_flow(text, name)
        assert module is not None and not [d for d in diags if d.is_error]


@pytest.mark.parametrize("text", [
    # lark's contextual lexer splits `inb` into `in` `b` where no name may follow
    'flow f(a: list[str]) { step s when "b" inb: shell "x" }',
    'flow f() { step s when x notify: shell "x" }',
    'flow f() { output x = 1 }',
    'flow f() { step s: shell "a {b ?? 1} {c.d}" { out n: int = 1e5 } }',
    'flow f(x: int?) -> (y: int) { var v: int?? = 1 }',
    "flow f() { step s: shell \"x\" { timeout 5m\n with {timeout: 1}\n env {a: \"b\"} } }",
    'flow f(max: int, after: str) { step when: fail "x" }',
    'flow f() { step a: shell "x" { continue_on_error true } }',
    'flow f() { step a: shell "x" { continue_on_error [1] cwd\n env {A: "1"} risk } }',
    'flow f() { step a: shell "x" { risk\n retry 2 timeout with {a: 1} with cwd d } }',
    'flow f() { step a: shell "x" { timeout\n foo 1 } }',
    "",
    "# only a comment",
    "flow f() {\n step s: shell \"x\"\n}\n\n\nflow g() { }",
    'flow f() { output x = if a thenb else c }',
    'flow f() { output x = if a then b elsec }',
    'flow f() { output x = ifa }',
    'flow f() { output x = if a then b else c ?? d\n version "1" }',
    'flow f() { step s when if a then b else c: shell "{if a then 1 else 2}" }',
    'flow f() { output x = {if: 1, then: 2}.if }',
])
def test_same_result_as_lark_on_edge_cases(text: str, lark_only: Callable[..., Any]) -> None:
    assert parser.parse_flow(text, "e.flow") == lark_only(parser.parse_flow, text, "e.flow")


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    tokens = list(TOKENS)
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["delete", "insert", "swap", "dup"]))
        i = draw(st.integers(0, len(tokens) - 1))
        if op == "delete":
            del tokens[i]
        elif op == "insert":
            tokens.insert(i, draw(st.sampled_from(FRAGMENTS + TOKENS)))
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        else:
            tokens.insert(i, tokens[i])
    return "".join(tokens)


@PROPS
@given(mutated_example())
def test_same_result_as_lark_on_mutated_sources(text: str) -> None:
    fast = parser.parse_flow(text, "m.flow")
    orig = parser.get_fast
    parser.get_fast = lambda b: _LarkOnly()  # type: ignore[assignment,return-value]
    try:
        slow = parser.parse_flow(text, "m.flow")
    finally:
        parser.get_fast = orig  # type: ignore[method-assign]
    assert fast == slow


@PROPS
@given(st.lists(st.sampled_from([*FRAGMENTS, "a", "1", "\"s\"", " ", "x.y"]), max_size=25))
def test_same_result_as_lark_on_expressions_and_types(parts: list[str]) -> None:
    text = " ".join(parts)
    fns = (parser.parse_expression, parser.parse_type, parser.parse_template)
    fast = [fn(text, ORIGIN) for fn in fns]
    orig = parser.get_fast
    parser.get_fast = lambda b: _LarkOnly()  # type: ignore[assignment,return-value]
    try:
        slow = [fn(text, ORIGIN) for fn in fns]
    finally:
        parser.get_fast = orig  # type: ignore[method-assign]
    assert fast == slow


def test_shipped_tables_match_the_grammar() -> None:
    dsl = ROOT / "src" / "chatflow" / "dsl"
    doc = json.loads((dsl / "flow_tables.json").read_text(encoding="utf-8"))
    assert doc["fast"]["grammar"] == (dsl / "flow.lark").read_text(encoding="utf-8"), (
        "flow_tables.json is stale: run python -c "
        "'from chatflow.dsl.tables import write_tables; write_tables()'")
