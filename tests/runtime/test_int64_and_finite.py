"""The value model's numeric bounds (issue 7, item 10): an `int` is signed
64-bit and a `float` is finite, at input parsing (`-i`), in type checks and
in run-time arithmetic. Overflow fails the step with a clear EvalError; it
never wraps and never reaches the state as a value JSON cannot hold."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatflow.diagnostics import ChatflowError, UsageError
from chatflow.dsl.lexical import MAX_INT
from chatflow.runtime.engine import bind_inputs
from chatflow.runtime.evaluator import EvalError, MapScope, evaluate, require_type
from chatflow.runtime.inputs import parse_input_value
from chatflow.runtime.values import INT_MAX, INT_MIN, check_type, mismatch

SCOPE = MapScope(params={}, vars={"max": INT_MAX, "min": INT_MIN, "big_json": 10**20},
                 context={}, steps={}, self_fields={})


def L(v: Any) -> dict[str, Any]:
    return {"lit": v}


def V(name: str) -> dict[str, Any]:
    return {"var": name}


def op(kind: str, *args: dict[str, Any]) -> dict[str, Any]:
    return {"op": kind, "args": list(args)}


def call(fn: str, *args: dict[str, Any]) -> dict[str, Any]:
    return {"op": "call", "fn": fn, "args": list(args)}


def test_the_runtime_bound_is_the_lexers() -> None:
    assert (INT_MIN, INT_MAX) == (-MAX_INT - 1, MAX_INT)


@pytest.mark.parametrize("expr", [
    op("+", V("max"), L(1)),
    op("-", V("min"), L(1)),
    op("*", V("max"), L(2)),
    op("*", V("min"), L(-1)),
    op("neg", V("min")),
    op("+", V("big_json"), L(0)),
    call("int", L("9223372036854775808")),
    call("int", L(1e19)),
    call("int", V("big_json")),
], ids=lambda e: str(e)[:60])
def test_integer_overflow_fails_instead_of_wrapping(expr: dict[str, Any]) -> None:
    with pytest.raises(EvalError, match=r"does not fit in 64 bits") as info:
        evaluate(expr, SCOPE)
    assert "9223372036854775807" in str(info.value)


@pytest.mark.parametrize(("expr", "value"), [
    (op("+", V("max"), L(0)), INT_MAX),
    (op("-", V("min"), L(0)), INT_MIN),
    (op("neg", V("max")), -INT_MAX),
    (call("int", L("-9223372036854775808")), INT_MIN),
    (op("*", V("max"), L(1)), INT_MAX),
])
def test_the_edges_of_the_range_are_values(expr: dict[str, Any], value: int) -> None:
    assert evaluate(expr, SCOPE) == value


@settings(max_examples=300, deadline=None)
@given(a=st.integers(INT_MIN, INT_MAX), b=st.integers(INT_MIN, INT_MAX),
       kind=st.sampled_from(["+", "-", "*"]))
def test_int_arithmetic_is_exact_or_fails(a: int, b: int, kind: str) -> None:
    exact = {"+": a + b, "-": a - b, "*": a * b}[kind]
    expr = op(kind, L(a), L(b))
    if INT_MIN <= exact <= INT_MAX:
        assert evaluate(expr, SCOPE) == exact
    else:
        with pytest.raises(EvalError, match="integer overflow"):
            evaluate(expr, SCOPE)


def test_json_numbers_that_are_not_finite_floats_are_refused() -> None:
    with pytest.raises(EvalError, match="too large for a float"):
        evaluate(call("json", L("[1e999]")), SCOPE)
    assert evaluate(call("json", L("1e308")), SCOPE) == 1e308


@pytest.mark.parametrize(("value", "type_str", "ok"), [
    (INT_MAX, "int", True), (INT_MAX + 1, "int", False), (INT_MIN - 1, "int", False),
    (INT_MAX + 1, "duration", False), (INT_MAX + 1, "float", False),
    ([1, INT_MAX + 1], "list[int]", False), (float("nan"), "float", False),
    (float("inf"), "float?", False), ({"a": float("-inf")}, "json", False),
    (10**20, "json", True),
])
def test_check_type_bounds(value: Any, type_str: str, ok: bool) -> None:
    assert check_type(value, type_str) is ok


def test_mismatch_names_the_reason() -> None:
    assert mismatch(float("nan"), "float") == (
        "expected float, got nan: not a finite number: numbers are JSON numbers, which have "
        "no NaN or infinity")
    assert "does not fit in 64 bits" in mismatch(INT_MAX + 1, "int")
    assert "[1,NaN]" in mismatch([1, float("nan")], "list[float]")
    with pytest.raises(EvalError, match="does not fit in 64 bits"):
        require_type(INT_MAX + 1, "int", "output `n`")


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e999"])
def test_a_float_input_must_be_finite(raw: str) -> None:
    with pytest.raises(ChatflowError) as info:
        parse_input_value("ratio", raw, "float")
    message = info.value.message
    assert "not a finite number" in message and isinstance(info.value, UsageError)
    assert "got float" not in message


@pytest.mark.parametrize(("raw", "type_str"), [
    ("9223372036854775808", "int"), ("-9223372036854775809", "int"),
    ("9_223_372_036_854_775_808", "int?"), ("99999999999999999d", "duration"),
    ("[9223372036854775808]", "list[int]"), ('{"a": 1e400}', "map[float]"),
])
def test_out_of_range_inputs_are_usage_errors(raw: str, type_str: str) -> None:
    with pytest.raises(ChatflowError) as info:
        parse_input_value("n", raw, type_str)
    assert isinstance(info.value, UsageError)
    assert "64 bits" in info.value.message or "finite" in info.value.message


def test_edge_inputs_are_accepted() -> None:
    assert parse_input_value("n", "9223372036854775807", "int") == INT_MAX
    assert parse_input_value("n", "-9223372036854775808", "int") == INT_MIN
    assert parse_input_value("r", "1e308", "float") == 1e308


def test_bind_inputs_says_what_is_wrong() -> None:
    flow = {"params": [{"name": "ratio", "type": "float"}, {"name": "n", "type": "int"}]}
    with pytest.raises(ChatflowError) as info:
        bind_inputs(flow, {"ratio": float("nan"), "n": 1})
    assert "not a finite number" in info.value.message
    assert "must be float, got float" not in info.value.message
    with pytest.raises(ChatflowError, match="does not fit in 64 bits"):
        bind_inputs(flow, {"ratio": 1.0, "n": INT_MAX + 1})
