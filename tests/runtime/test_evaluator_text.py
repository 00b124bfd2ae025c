"""The conditional `if C then A else B` (IR op `if`: only the branch taken is
evaluated) and the text built-ins `split`, `lines`, `join`, `replace`,
`match` and `env` at run time."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatflow.deep import room
from chatflow.runtime.builtins_text import MAX_TEXT
from chatflow.runtime.evaluator import MAX_EXPR_DEPTH, EvalError, MapScope, evaluate


def L(v: Any) -> dict[str, Any]:
    return {"lit": v}


def op(kind: str, /, *args: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"op": kind, "args": list(args), **extra}


def call(fn: str, *args: dict[str, Any]) -> dict[str, Any]:
    return op("call", *args, fn=fn)


def ev(expr: dict[str, Any], **params: Any) -> Any:
    return evaluate(expr, MapScope(params=params))


def err(expr: dict[str, Any], **params: Any) -> str:
    with pytest.raises(EvalError) as info:
        ev(expr, **params)
    return str(info.value)


BOOM = call("int", L("not a number"))  # fails when evaluated


def test_if_takes_one_branch() -> None:
    assert ev(op("if", L(True), L(1), L(2))) == 1
    assert ev(op("if", L(False), L(1), L(2))) == 2


def test_if_never_evaluates_the_branch_not_taken() -> None:
    assert ev(op("if", L(True), L("ok"), BOOM)) == "ok"
    assert ev(op("if", L(False), BOOM, L("ok"))) == "ok"
    assert "not an integer" in err(op("if", L(True), BOOM, L("ok")))


def test_if_needs_a_bool_and_three_operands() -> None:
    assert "expected bool, got null" in err(op("if", L(None), L(1), L(2)))
    assert "expected bool, got int 1" in err(op("if", L(1), L(1), L(2)))
    assert "needs 3 operands" in err(op("if", L(True), L(1)))


def test_if_chains_evaluate_at_the_depth_limit() -> None:
    expr: dict[str, Any] = L("last")
    for i in range(MAX_EXPR_DEPTH - 1):
        expr = op("if", {"param": "x"}, expr, L(i))
    with room():
        assert ev(expr, x=True) == "last"
        assert ev(expr, x=False) == MAX_EXPR_DEPTH - 2


def test_split_and_lines() -> None:
    assert ev(call("split", L("a,b,,c"), L(","))) == ["a", "b", "", "c"]
    assert ev(call("split", L(""), L(","))) == [""]
    assert "separator is empty" in err(call("split", L("a"), L("")))
    assert ev(call("lines", L("a\nb\r\nc\n"))) == ["a", "b", "c"]
    assert ev(call("lines", L("a\n\nb"))) == ["a", "", "b"]
    assert ev(call("lines", L(""))) == []
    assert "argument 1: expected str, got null" in err(call("lines", L(None)))


def test_join() -> None:
    assert ev(call("join", op("list", L("a"), L("b")), L(", "))) == "a, b"
    assert ev(call("join", op("list"), L("-"))) == ""
    assert "item 1 of argument 1: expected str, got int 2" in err(
        call("join", op("list", L("a"), L(2)), L(",")))
    assert "expected a list of str" in err(call("join", L("ab"), L(",")))
    assert "too long" in err(call("join", {"param": "xs"}, L("")),
                             xs=["a" * (MAX_TEXT // 2 + 1)] * 2)


def test_replace() -> None:
    assert ev(call("replace", L("a-b-c"), L("-"), L("_"))) == "a_b_c"
    assert ev(call("replace", L("abc"), L("x"), L("y"))) == "abc"
    assert "cannot replace the empty string" in err(call("replace", L("a"), L(""), L("b")))
    assert "too long" in err(call("replace", L("a" * 1000), L("a"), L("b" * 20_000)))


def test_match() -> None:
    assert ev(call("match", L("version v1.2.3 ok"), L(r"v([0-9.]+)"))) == "1.2.3"
    assert ev(call("match", L("error: 3 failed"), L(r"\d+ failed"))) == "3 failed"
    assert ev(call("match", L("all good"), L(r"\d+"))) is None
    assert ev(call("match", L("ab"), L(r"(x)?b"))) is None  # group 1 took no part
    assert "invalid regex" in err(call("match", L("a"), L("(")))
    assert "too long" in err(call("match", L("a" * ((1 << 20) + 1)), L("a")))


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(a*)*b", r"(a)\1"])
def test_match_has_the_same_guard_as_matches(pattern: str) -> None:
    message = err(call("match", L("a" * 40 + "!"), L(pattern)))
    assert "exponential" in message or "backreference" in message


def test_env_reads_the_driving_process_when_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATFLOW_TEST_ENV_X", "one")
    assert ev(call("env", L("CHATFLOW_TEST_ENV_X"))) == "one"
    monkeypatch.setenv("CHATFLOW_TEST_ENV_X", "two")
    assert ev(call("env", L("CHATFLOW_TEST_ENV_X"))) == "two"
    monkeypatch.delenv("CHATFLOW_TEST_ENV_X")
    assert ev(call("env", L("CHATFLOW_TEST_ENV_X"))) is None
    assert "not an environment variable name" in err(call("env", L("A=B")))
    assert "not an environment variable name" in err(call("env", L("")))


@given(st.text(max_size=30), st.text(min_size=1, max_size=3))
def test_join_inverts_split(text: str, sep: str) -> None:
    parts = ev(call("split", L(text), L(sep)))
    assert ev(call("join", {"param": "p"}, L(sep)), p=parts) == text


@given(st.lists(st.text(alphabet="ab \t\r", max_size=6), max_size=5))
def test_lines_of_joined_lines(items: list[str]) -> None:
    items = [i.rstrip("\r") for i in items]
    text = "".join(i + "\n" for i in items)
    assert ev(call("lines", L(text))) == items


@given(st.booleans(), st.integers(), st.integers())
def test_if_agrees_with_python(c: bool, a: int, b: int) -> None:
    assert ev(op("if", L(c), L(a), L(b))) == (a if c else b)
