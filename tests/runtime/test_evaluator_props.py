"""Property tests: the evaluator only ever raises EvalError, a `shell`
command's text never depends on a value (the value is its binding's text),
JSON text round-trips."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatflow.compiler.shell_holes import shell_action
from chatflow.runtime.evaluator import EvalError, MapScope, evaluate, render
from chatflow.runtime.shell_bindings import bind_shell
from chatflow.runtime.values import check_type, json_text, values_equal

NAMES = ["a", "b", "c"]
OPS = ["??", "or", "and", "not", "neg", "==", "!=", "<", "<=", ">", ">=", "in",
       "+", "-", "*", "/", "%", "index", "list", "fmt", "if", "nope"]
FUNCS = ["len", "json", "str", "int", "float", "contains", "startswith", "endswith",
         "lower", "upper", "trim", "matches", "split", "lines", "join", "replace", "match",
         "env", "nope"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
    st.sampled_from(['{"a": 1}', "[1, 2]", "12", " 3.5 ", "null", "(a+)+$", "a", "é"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=4), children, max_size=4),
    ),
    max_leaves=12,
)

leaves = st.one_of(
    scalars.map(lambda v: {"lit": v}),
    st.integers(min_value=0, max_value=10**9).map(lambda ms: {"dur": ms}),
    st.sampled_from([*NAMES, "zz"]).map(lambda n: {"param": n}),
    st.sampled_from([*NAMES, "zz"]).map(lambda n: {"var": n}),
    st.sampled_from(NAMES).map(lambda n: {"ctx": n}),
    st.builds(lambda s, f: {"step": s, "field": f}, st.sampled_from([*NAMES, "gone"]),
              st.sampled_from(NAMES)),
    st.sampled_from(NAMES).map(lambda n: {"self": n}),
    st.sampled_from([{"bogus": 1}, {"lit": [1]}, {"dur": "x"}, {"op": "+", "args": "x"},
                     {"op": ["+"], "args": []}, {"op": "attr", "args": [], "name": 3}]),
)


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    args = st.lists(children, max_size=3)
    return st.one_of(
        st.builds(lambda o, a: {"op": o, "args": a}, st.sampled_from(OPS), args),
        st.builds(lambda fn, a: {"op": "call", "fn": fn, "args": a}, st.sampled_from(FUNCS), args),
        st.builds(lambda a, n: {"op": "attr", "args": [a], "name": n}, children,
                  st.sampled_from(NAMES)),
        st.builds(lambda a: {"op": "map", "keys": [f"k{i}" for i in range(len(a))], "args": a},
                  args),
    )


expressions = st.recursive(leaves, _extend, max_leaves=25)


def _scope(values: list[Any]) -> MapScope:
    table = dict(zip(NAMES, values, strict=True))
    return MapScope(params=table, vars=table, context=table, steps={"a": table, "b": None},
                    self_fields=table)


# One small table of values shared by every kind of name keeps generation fast.
scopes = st.lists(json_values, min_size=3, max_size=3).map(_scope)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, scopes)
def test_evaluate_raises_only_eval_error(expr: Any, scope: MapScope) -> None:
    try:
        value = evaluate(expr, scope)
    except EvalError as exc:
        assert str(exc)
        return
    assert check_type(value, "json") or isinstance(value, int)


@settings(max_examples=200, deadline=None)
@given(expressions, scopes)
def test_render_raises_only_eval_error(expr: Any, scope: MapScope) -> None:
    try:
        text = render({"op": "fmt", "args": [{"lit": "x "}, expr]}, scope)
    except EvalError:
        return
    assert text.startswith("x ")


@settings(max_examples=200, deadline=None)
@given(expressions, scopes)
def test_shell_binding_raises_only_eval_error(expr: Any, scope: MapScope) -> None:
    action = {"type": "shell", "command": 'echo "${cf_1}"', "bindings": {"cf_1": expr}}
    try:
        command, env = bind_shell(action, scope)
    except EvalError:
        return
    assert command == 'echo "${cf_1}"' and isinstance(env["cf_1"], str)


ECHO_V = shell_action({"op": "fmt", "args": [{"lit": "echo "}, {"param": "v"}]})


@settings(max_examples=300)
@given(json_values)
def test_the_command_never_depends_on_the_value(value: Any) -> None:
    try:
        command, env = bind_shell(ECHO_V, MapScope(params={"v": value}))
    except EvalError:  # ints beyond JSON's digit limit, a NUL byte
        return
    assert command == 'echo "${cf_v}"'
    assert env == {"cf_v": value if isinstance(value, str) else json_text(value)}


@settings(max_examples=300)
@given(json_values)
def test_json_text_round_trips(value: Any) -> None:
    scope = MapScope(params={"v": value})
    try:
        back = evaluate({"op": "call", "fn": "json", "args": [
            {"op": "call", "fn": "str", "args": [{"param": "v"}]}]}, scope)
    except EvalError:
        return  # a str that is not JSON text, or a huge int
    if not isinstance(value, str):
        assert values_equal(back, value)


CANARIES = ['x"; touch pwned; echo "', "$(touch pwned)", "`touch pwned`", "a'b", "'", "\\",
            "--flag", "line1\nline2", "$HOME", "*", "", " spaced  out ", "é ☃"]
PRINTF_V_END = shell_action({"op": "fmt", "args": [{"lit": "printf '%s\\n' "}, {"param": "v"},
                                                   {"lit": " END"}]})


def test_hostile_values_reach_sh_as_one_literal_argument(tmp_path: Any) -> None:
    for value in CANARIES:
        command, env = bind_shell(PRINTF_V_END, MapScope(params={"v": value}))
        out = subprocess.run(["/bin/sh", "-c", command], cwd=tmp_path, capture_output=True,
                             text=True, check=True, env={**os.environ, **env}).stdout
        assert out == value + "\nEND\n"
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=30))
def test_any_value_reaches_sh_as_one_argument(value: str) -> None:
    action = shell_action({"op": "fmt", "args": [{"lit": "printf '[%s]' "}, {"param": "v"}]})
    command, env = bind_shell(action, MapScope(params={"v": value}))
    out = subprocess.run(["/bin/sh", "-c", command], capture_output=True, check=True,
                         env={**os.environ, **env}).stdout
    assert out == f"[{value}]".encode()
