"""Property tests: whatever the input, the parser returns a module or
diagnostics and never raises (nor reports an internal error)."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatflow.diagnostics import Span
from chatflow.dsl import ast
from chatflow.dsl.parser import (
    MAX_NESTING,
    parse_expression,
    parse_flow,
    parse_template,
    parse_type,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "examples" / "feature.flow").read_text()
TOKENS = re.findall(r'"(?:[^"\\\n]|\\.)*"|\w+|[^\w\s]|\s+', EXAMPLE)
ORIGIN = Span("p.yaml", 3, 7, 3, 7, 50, 50)

FRAGMENTS = ["{", "}", "(", ")", "[", "]", '"', "\\", ":", ",", "=", "==", "??", "?", ".", "-",
             "step", "flow", "when", "after", "max", "until", "{x}", "1_", "10m", "#", "\n",
             "repeat r max 1 until a.ok", "\x00", "\ufeff", "é", "9" * 30,
             "'", "'raw'", "'''", '"""', '"""\n  {x}\n  """',
             "if", "then", "else", "if a then 1 else 2"]

PROPS = settings(max_examples=200, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


def check(result: tuple[object, list[object]], text: str) -> None:
    node, diags = result
    assert node is not None or diags, "neither a result nor a diagnostic"
    for d in diags:
        assert d.code != "E0100", d.message  # type: ignore[attr-defined]
        span = d.span  # type: ignore[attr-defined]
        assert span.line >= 1 and span.column >= 1
        assert span.start <= span.end


@PROPS
@given(st.text(max_size=300))
def test_random_text_never_raises(text: str) -> None:
    check(parse_flow(text, "r.flow"), text)


@PROPS
@given(st.binary(max_size=200))
def test_random_bytes_never_raise(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    check(parse_flow(text, "r.flow"), text)


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    tokens = list(TOKENS)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "swap", "dup", "char"]))
        i = draw(st.integers(0, len(tokens) - 1))
        if op == "delete":
            del tokens[i]
        elif op == "insert":
            tokens.insert(i, draw(st.sampled_from(FRAGMENTS + TOKENS)))
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "dup":
            tokens.insert(i, tokens[i])
        else:
            text = tokens[i]
            k = draw(st.integers(0, len(text)))
            tokens[i] = text[:k] + draw(st.characters()) + text[k + 1:]
    return "".join(tokens)


@PROPS
@given(mutated_example())
def test_mutated_example_never_raises(text: str) -> None:
    check(parse_flow(text, "m.flow"), text)


@PROPS
@given(mutated_example())
def test_mutated_example_spans_stay_inside_the_text(text: str) -> None:
    module, diags = parse_flow(text, "m.flow")
    for d in diags:
        assert d.span.end <= len(text) + 1
    if module is not None:
        for item in ast.iter_items(tuple(i for f in module.flows for i in f.items)):
            assert 0 <= item.span.start < item.span.end <= len(text)


@PROPS
@given(st.text(max_size=80))
def test_expression_template_type_never_raise(text: str) -> None:
    check(parse_expression(text, ORIGIN), text)
    check(parse_template(text, ORIGIN), text)
    check(parse_type(text, ORIGIN), text)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=MAX_NESTING + 50),
       st.sampled_from(["(", "-", "not ", "[", "a.", "len(", "{k: ", "1 + (", "null ?? (",
                        "if a then 1 else "]))
def test_deep_nesting_never_raises(depth: int, opener: str) -> None:
    closer = {"(": ")", "[": "]", "len(": ")", "{k: ": "}", "1 + (": ")",
              "null ?? (": ")"}.get(opener, "")
    text = f"flow f() {{ output x = {opener * depth}1{closer * depth} }}"
    check(parse_flow(text, "d.flow"), text)
