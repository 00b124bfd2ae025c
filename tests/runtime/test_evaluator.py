"""The expression evaluator: every operator and built-in, short-circuiting,
null handling, and the wording of its errors."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.compiler.ir import expr_text
from chatflow.deep import room
from chatflow.runtime.evaluator import (
    MAX_EXPR_DEPTH,
    EvalError,
    MapScope,
    evaluate,
    render,
    require_type,
    text_of,
)


def L(v: Any) -> dict[str, Any]:
    return {"lit": v}


def op(kind: str, /, *args: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"op": kind, "args": list(args), **extra}


def call(fn: str, *args: dict[str, Any]) -> dict[str, Any]:
    return {"op": "call", "fn": fn, "args": list(args)}


def boom() -> dict[str, Any]:
    """An expression that fails if evaluated: proves short-circuiting."""
    return op("/", L(1), L(0))


SCOPE = MapScope(
    params={"feature_id": "F-1", "coverage_min": 0.8, "n": 3},
    vars={"attempts": 2, "tags": ["a", "b"]},
    context={"instance_id": "inst-1", "attempt": 1, "depth": 0},
    steps={
        "unit": {"ok": True, "stdout": '{"coverage": 0.93, "files": ["a.py"], "meta": null}',
                 "exit_code": 0},
        "design": None,
    },
    self_fields={"stdout": "hello"},
)


def ev(expr: dict[str, Any]) -> Any:
    return evaluate(expr, SCOPE)


def err(expr: dict[str, Any]) -> str:
    with pytest.raises(EvalError) as info:
        evaluate(expr, SCOPE)
    return str(info.value)


# -- leaves -------------------------------------------------------------------


def test_literals_and_durations() -> None:
    assert ev(L("x")) == "x"
    assert ev(L(3)) == 3
    assert ev(L(2.5)) == 2.5
    assert ev(L(True)) is True
    assert ev(L(None)) is None
    assert ev({"dur": 600_000}) == 600_000


def test_names() -> None:
    assert ev({"param": "feature_id"}) == "F-1"
    assert ev({"var": "attempts"}) == 2
    assert ev({"ctx": "instance_id"}) == "inst-1"
    assert ev({"step": "unit", "field": "ok"}) is True
    assert ev({"self": "stdout"}) == "hello"


def test_skipped_or_unknown_step_reads_null() -> None:
    assert ev({"step": "design", "field": "text"}) is None
    assert ev({"step": "never", "field": "ok"}) is None


def test_unknown_names_are_eval_errors() -> None:
    assert "unknown parameter `nope`" in err({"param": "nope"})
    assert "unknown variable `nope`" in err({"var": "nope"})
    assert "ctx.nope" in err({"ctx": "nope"})


def test_malformed_trees_are_eval_errors() -> None:
    assert "malformed" in err({"weird": 1})  # type: ignore[arg-type]
    assert "unknown operator" in err(op("**", L(1), L(2)))
    assert "unknown function `eval`" in err(call("eval", L("1")))
    assert "takes 1 argument" in err(call("len", L("a"), L("b")))


# -- logic --------------------------------------------------------------------


def test_coalesce_short_circuits() -> None:
    assert ev(op("??", L(None), L(5))) == 5
    assert ev(op("??", L(0), boom())) == 0
    assert ev(op("??", L(False), boom())) is False
    assert ev(op("??", L(None), L(None))) is None


def test_and_or_short_circuit() -> None:
    assert ev(op("and", L(False), boom())) is False
    assert ev(op("or", L(True), boom())) is True
    assert ev(op("and", L(True), L(True))) is True
    assert ev(op("or", L(False), L(False))) is False
    with pytest.raises(EvalError):
        ev(op("and", L(True), boom()))


def test_logic_needs_bools() -> None:
    assert err(op("and", L(1), L(True))) == "`1`: expected bool, got int 1"
    assert "expected bool, got null" in err(op("not", L(None)))
    assert ev(op("not", L(False))) is True


# -- comparison ---------------------------------------------------------------


def test_equality_is_deep_and_numeric() -> None:
    assert ev(op("==", L(1), L(1.0))) is True
    assert ev(op("==", op("list", L(1), L("a")), op("list", L(1.0), L("a")))) is True
    assert ev(op("==", op("map", L(1), keys=["k"]), op("map", L(1), keys=["k"]))) is True
    assert ev(op("!=", op("map", L(1), keys=["k"]), op("map", L(2), keys=["k"]))) is True
    assert ev(op("==", L(True), L(1))) is False
    assert ev(op("==", L(None), L(None))) is True
    assert ev(op("!=", L("1"), L(1))) is True


@pytest.mark.parametrize(("name", "a", "b", "want"), [
    ("<", 1, 2, True), ("<", 2.5, 2, False), ("<=", 2, 2.0, True), (">", "b", "a", True),
    (">=", "a", "b", False), ("<", 500, 1000, True),
])
def test_ordering(name: str, a: Any, b: Any, want: bool) -> None:
    assert ev(op(name, L(a), L(b))) is want


def test_ordering_rejects_mixed_types() -> None:
    assert err(op("<", L(1), L("2"))) == '`1 < "2"`: cannot compare int 1 with str "2"'
    assert "cannot compare" in err(op(">", L(True), L(False)))
    assert "cannot compare" in err(op("<", L(None), L(1)))


def test_in() -> None:
    assert ev(op("in", L("a"), {"var": "tags"})) is True
    assert ev(op("in", L(1.0), op("list", L(1), L(2)))) is True
    assert ev(op("in", L("k"), op("map", L(1), keys=["k"]))) is True
    assert ev(op("in", L("ell"), L("hello"))) is True
    assert ev(op("in", L("z"), L("hello"))) is False
    assert "cannot test membership in int 3" in err(op("in", L(1), L(3)))
    assert "map keys are strings" in err(op("in", L(1), op("map", L(1), keys=["k"])))


# -- arithmetic ---------------------------------------------------------------


def test_plus() -> None:
    assert ev(op("+", L(1), L(2))) == 3
    assert isinstance(ev(op("+", L(1), L(2))), int)
    assert ev(op("+", L(1), L(0.5))) == 1.5
    assert ev(op("+", {"dur": 1000}, {"dur": 500})) == 1500
    assert ev(op("+", L("a"), L("b"))) == "ab"
    assert ev(op("+", op("list", L(1)), op("list", L(2)))) == [1, 2]
    assert err(op("+", L(1), L("a"))) == '`1 + "a"`: cannot add int 1 and str "a"'
    assert "cannot add" in err(op("+", L(True), L(1)))


def test_minus_times_divide_modulo() -> None:
    assert ev(op("-", L(5), L(7))) == -2
    assert ev(op("*", L(3), L(2.5))) == 7.5
    assert ev(op("/", L(7), L(2))) == 3.5
    assert isinstance(ev(op("/", L(4), L(2))), float)
    assert ev(op("%", L(7), L(3))) == 1
    assert ev(op("neg", L(4))) == -4
    assert "division by zero" in err(op("/", L(1), L(0)))
    assert "division by zero" in err(op("/", L(1.0), L(0.0)))
    assert "division by zero" in err(op("%", L(1), L(0)))
    assert "`%` needs two ints" in err(op("%", L(7.5), L(2)))
    assert "`-` needs two numbers" in err(op("-", L("a"), L(1)))
    assert "cannot negate str" in err(op("neg", L("a")))


def test_float_overflow_is_an_error() -> None:
    assert "finite" in err(op("*", L(1e308), L(10)))
    assert "too large" in err(op("/", L(10**400), L(3)))


# -- member access and indexing ---------------------------------------------------


def test_attr_and_index_on_json() -> None:
    data = call("json", {"step": "unit", "field": "stdout"})
    assert ev(op("attr", data, name="coverage")) == 0.93
    assert ev(op("attr", data, name="missing")) is None
    assert ev(op("attr", op("attr", data, name="meta"), name="deeper")) is None
    assert ev(op("index", op("attr", data, name="files"), L(0))) == "a.py"
    assert ev(op("index", data, L("coverage"))) == 0.93
    assert ev(op("index", L("abc"), L(1))) == "b"
    assert ev(op("??", op("attr", data, name="missing"), L(0.0))) == 0.0


def test_index_errors() -> None:
    assert err(op("index", {"var": "tags"}, L(2))) == (
        "`tags[2]`: index 2 out of range for list of length 2")
    assert "out of range" in err(op("index", L("abc"), L(-1)))
    assert "index must be an int" in err(op("index", {"var": "tags"}, L("0")))
    assert "index must be an int" in err(op("index", {"var": "tags"}, L(True)))
    assert "cannot index int 5" in err(op("index", L(5), L(0)))
    assert "cannot read `.x` of str" in err(op("attr", L("s"), name="x"))


# -- displays and templates ------------------------------------------------------


def test_list_map_fmt() -> None:
    assert ev(op("list", L(1), L("a"))) == [1, "a"]
    assert ev(op("map", L(1), L(None), keys=["a", "b"])) == {"a": 1, "b": None}
    tpl = op("fmt", L("id="), {"param": "feature_id"}, L(" ok="), L(True), L(" l="),
             {"var": "tags"}, L(" n="), L(None))
    assert ev(tpl) == 'id=F-1 ok=true l=["a","b"] n=null'


def test_fmt_uses_compact_json_without_ascii_escapes() -> None:
    value = op("map", L("é"), L(1.5), keys=["k", "x"])
    assert ev(op("fmt", L("v="), value)) == 'v={"k":"é","x":1.5}'


def test_render_and_text_of() -> None:
    scope = MapScope(params={"x": "a b", "n": 2, "e": "", "m": {"k": [1]}})
    tpl = op("fmt", L("echo '{lit}' "), {"param": "x"}, L(" "), {"param": "n"}, L(" "),
             {"param": "e"})
    assert render(tpl, scope) == "echo '{lit}' a b 2 "
    assert render({"param": "n"}, scope) == "2"
    assert text_of({"param": "x"}, scope) == "a b"
    assert text_of({"param": "m"}, scope) == '{"k":[1]}'
    assert text_of(L(None), scope) == "null"


# -- built-ins --------------------------------------------------------------------


def test_len() -> None:
    assert ev(call("len", L("héllo"))) == 5
    assert ev(call("len", {"var": "tags"})) == 2
    assert ev(call("len", op("map", L(1), keys=["a"]))) == 1
    assert "`len` needs a string, list or map, got int 3" in err(call("len", L(3)))


def test_json() -> None:
    assert ev(call("json", L('{"a": [1, 2.5, null, true]}'))) == {"a": [1, 2.5, None, True]}
    assert ev(call("json", L("null"))) is None
    message = err(call("json", L("{oops")))
    assert message.startswith('`json("\\{oops")`: invalid JSON: ')
    assert "line 1 column 2" in message
    assert "NaN is not valid JSON" in err(call("json", L("[NaN]")))
    assert "nested too deeply" in err(call("json", L("[" * 100_000 + "]" * 100_000)))
    assert "expected str, got int 1" in err(call("json", L(1)))


def test_str() -> None:
    assert ev(call("str", L("x"))) == "x"
    assert ev(call("str", L(True))) == "true"
    assert ev(call("str", L(None))) == "null"
    assert ev(call("str", L(1.5))) == "1.5"
    assert ev(call("str", op("list", L(1), L("a")))) == '[1,"a"]'


def test_int() -> None:
    assert ev(call("int", L("12"))) == 12
    assert ev(call("int", L(" -3 "))) == -3
    assert ev(call("int", L(3.9))) == 3
    assert ev(call("int", L(7))) == 7
    assert "not an integer" in err(call("int", L("1.5")))
    assert "not an integer" in err(call("int", L("1_000")))
    assert "cannot convert bool" in err(call("int", L(True)))
    assert "cannot convert null" in err(call("int", L(None)))
    assert "too large" in err(call("int", L("9" * 10_000)))


def test_float() -> None:
    assert ev(call("float", L("0.25"))) == 0.25
    assert ev(call("float", L("1e3"))) == 1000.0
    assert ev(call("float", L(2))) == 2.0
    assert "not a number" in err(call("float", L("nan")))
    assert "not a number" in err(call("float", L("abc")))
    assert "finite" in err(call("float", L("1e999")))
    assert "too large" in err(call("float", L(10**400)))


def test_string_functions() -> None:
    assert ev(call("contains", L("hello"), L("ell"))) is True
    assert ev(call("contains", {"var": "tags"}, L("b"))) is True
    assert ev(call("contains", op("map", L(1), keys=["k"]), L("k"))) is True
    assert ev(call("startswith", L("hello"), L("he"))) is True
    assert ev(call("endswith", L("hello"), L("he"))) is False
    assert ev(call("lower", L("AbC"))) == "abc"
    assert ev(call("upper", L("AbC"))) == "ABC"
    assert ev(call("trim", L("  a b \n"))) == "a b"
    assert "argument 2: expected str, got int 1" in err(call("startswith", L("a"), L(1)))
    assert "expected str, got null" in err(call("lower", L(None)))


def test_matches() -> None:
    assert ev(call("matches", L("error: 3 failed"), L(r"\d+ failed"))) is True
    assert ev(call("matches", L("all good"), L(r"^\d"))) is False
    assert ev(call("matches", L("x" * 50 + "y"), L(r"(?:ab|x)+y"))) is True
    assert "invalid regex" in err(call("matches", L("a"), L("(")))


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a*)*b", r"(?:\w+\s?)+$", r"(a|b+)*c",
                                     r"(a)\1"])
def test_matches_refuses_catastrophic_patterns(pattern: str) -> None:
    message = err(call("matches", L("a" * 40 + "!"), L(pattern)))
    assert "exponential" in message or "backreference" in message


def test_matches_bounds_input() -> None:
    assert "too long" in err(call("matches", L("a" * ((1 << 20) + 1)), L("a")))
    assert "too long" in err(call("matches", L("a"), L("a" * 1001)))


# -- depth, types, source text ------------------------------------------------------


def test_deep_trees_are_eval_errors() -> None:
    expr: dict[str, Any] = L(1)
    for _ in range(MAX_EXPR_DEPTH + 5):
        expr = op("neg", expr)
    with room():  # as the runtime's entry points give it: the depth check speaks
        assert "nested deeper" in err(expr)
    assert "nested" in err(expr)  # without room: too deep for Python, still an EvalError
    very_deep: dict[str, Any] = L(True)
    for _ in range(50_000):
        very_deep = op("not", very_deep)
    with pytest.raises(EvalError):
        ev(very_deep)


def test_deep_json_values_do_not_crash_equality() -> None:
    deep = "[" * 900 + "]" * 900
    try:
        result = ev(op("==", call("json", L(deep)), call("json", L(deep))))
    except EvalError:
        return
    assert result is True


def test_require_type_message() -> None:
    with pytest.raises(EvalError) as info:
        require_type("x", "float", "unit.coverage")
    assert str(info.value) == '`unit.coverage`: expected float, got str "x"'
    require_type(1, "float", "x")
    require_type(None, "list[int]?", "x")


def test_expr_source_round_trips_precedence() -> None:
    e = op("??", op("attr", call("json", {"self": "stdout"}), name="coverage"), L(0.0))
    assert expr_text(e) == "json(stdout).coverage ?? 0.0"
    e = op("*", op("+", L(1), L(2)), L(3))
    assert expr_text(e) == "(1 + 2) * 3"
    e = op("-", L(1), op("-", L(2), L(3)))
    assert expr_text(e) == "1 - (2 - 3)"
    e = op("and", {"step": "unit", "field": "ok"},
           op(">=", {"step": "unit", "field": "coverage"}, {"param": "coverage_min"}))
    assert expr_text(e) == "unit.ok and unit.coverage >= coverage_min"
    assert expr_text(op("not", op("or", L(True), L(False)))) == "not (true or false)"
    assert expr_text({"dur": 7_200_000}) == "2h"
    assert expr_text({"dur": 1500}) == "1500ms"
    assert expr_text(op("fmt", L("Merge {"), {"param": "f"}, L('"?'))) == '"Merge \\{{f}\\"?"'
    assert expr_text(op("index", {"var": "tags"}, L(0))) == "tags[0]"
    assert expr_text({"ctx": "attempt"}) == "ctx.attempt"


def test_matches_refuses_optional_inside_counted_repeat() -> None:
    assert "exponential" in err(call("matches", L("a" * 30), L(r"(?:a?){30}a{30}")))
    assert ev(call("matches", L("v1.2.3"), L(r"v[\d.]+$"))) is True
    assert ev(call("matches", L("abcabc"), L(r"(?:abc){2}"))) is True
