"""Evaluate the IR's expression trees (docs/ir.md, EXPR) against a scope.

A small tree-walking interpreter: no `eval`, no `exec`. Every problem a user
can cause (bad JSON, a wrong type inside a `json` value, division by zero, an
index out of range, a hostile regex, a too-deep tree) is an `EvalError` whose
message names the failing expression in source syntax, e.g.
``"`json(stdout)`: invalid JSON: Expecting value at line 1 column 1"``.

Null handling for `json` data: reading a member that a map lacks gives null,
like a JSON lookup (`json(s).coverage ?? 0.0` works when the key is absent),
and member access or indexing *on null* gives null too, so a chain such as
`json(s).report.coverage ?? 0.0` falls back instead of failing. Indexing a
list or string out of range is an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

from chatflow.compiler.ir import MAX_EXPR_DEPTH, expr_text
from chatflow.runtime.builtins_text import TEXT_BUILTINS
from chatflow.runtime.values import (
    check_type,
    describe,
    int64_problem,
    is_number,
    json_text,
    mismatch,
    to_text,
    type_name,
    values_equal,
)

__all__ = [
    "MAX_EXPR_DEPTH",
    "EvalError",
    "MapScope",
    "Scope",
    "check_type",
    "evaluate",
    "render",
    "require_type",
    "text_of",
]

# MAX_EXPR_DEPTH (the IR's limit, checked when IR is loaded): deeper trees
# are rejected here too, instead of overflowing the stack.


class EvalError(Exception):
    """A run-time error in an expression, in user terms.

    `expr` is the failing sub-expression in source syntax (or None) and
    `problem` what went wrong; `str(err)` joins them."""

    def __init__(self, problem: str, expr: str | None = None) -> None:
        self.problem = problem
        self.expr = expr
        super().__init__(f"`{expr}`: {problem}" if expr else problem)


class Scope(Protocol):
    """Names an expression can read. Unknown names raise EvalError."""

    def param(self, name: str) -> Any: ...
    def var(self, name: str) -> Any: ...
    def ctx(self, name: str) -> Any: ...
    def step_field(self, step: str, field: str) -> Any: ...  # None when skipped / not run
    def self_field(self, name: str) -> Any: ...


@dataclass
class MapScope:
    """A dict-backed Scope for tests and dry runs.

    `steps` maps a step name to its fields; a step that is absent (or maps to
    None) reads as null, like a skipped step."""

    params: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    self_fields: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> Any:
        return _lookup(self.params, name, "parameter")

    def var(self, name: str) -> Any:
        return _lookup(self.vars, name, "variable")

    def ctx(self, name: str) -> Any:
        return _lookup(self.context, name, "context value `ctx.", suffix="`")

    def step_field(self, step: str, field: str) -> Any:
        fields = self.steps.get(step)
        return None if fields is None else fields.get(field)

    def self_field(self, name: str) -> Any:
        return _lookup(self.self_fields, name, "field of this step")


def _lookup(table: Mapping[str, Any], name: str, what: str, suffix: str = "") -> Any:
    if name in table:
        return table[name]
    if suffix:
        raise EvalError(f"unknown {what}{name}{suffix}")
    raise EvalError(f"unknown {what} `{name}`")


# --------------------------------------------------------------------------
# evaluation


def evaluate(expr: dict[str, Any], scope: Scope) -> Any:
    """The value of an IR expression. Raises only EvalError."""
    try:
        return _Evaluator(scope).value_of(expr, 0)
    except RecursionError:
        raise EvalError("value or expression nested too deeply") from None
    except MemoryError:
        raise EvalError("value too large") from None


def render(expr: dict[str, Any], scope: Scope) -> str:
    """The text of a TEMPLATE (`{"op": "fmt"}`) or of any expression.

    Literal text parts are kept as written; every interpolated value is
    plain text (strings as is, other values as JSON text). Shell commands are
    never rendered: their values reach the shell through environment
    variables (`runtime/shell_bindings.py`)."""
    try:
        return _render(expr, scope)
    except RecursionError:
        raise EvalError("value or expression nested too deeply") from None
    except MemoryError:
        raise EvalError("value too large") from None


def text_of(expr: dict[str, Any], scope: Scope) -> str:
    """One interpolated value as text: a `str` as is, others as JSON text."""
    try:
        ev = _Evaluator(scope)
        return ev.text(ev.value_of(expr, 1), expr)
    except RecursionError:
        raise EvalError("value or expression nested too deeply") from None
    except MemoryError:
        raise EvalError("value too large") from None


def _render(expr: dict[str, Any], scope: Scope) -> str:
    ev = _Evaluator(scope)
    if isinstance(expr, dict) and expr.get("op") == "fmt":
        parts = expr.get("args")
        if not isinstance(parts, list):
            raise EvalError("malformed template (no parts)")
        out: list[str] = []
        for part in parts:
            if isinstance(part, dict) and isinstance(part.get("lit"), str):
                out.append(part["lit"])
            else:
                out.append(ev.text(ev.value_of(part, 1), part))
        return "".join(out)
    if isinstance(expr, dict) and isinstance(expr.get("lit"), str):
        return str(expr["lit"])
    return ev.text(ev.value_of(expr, 1), expr)


def require_type(value: Any, type_str: str, label: str) -> None:
    """Raise EvalError("`label`: expected T, got ...") when `value` does not
    fit `type_str`; used for `out` fields, var values and `json` results."""
    if not check_type(value, type_str):
        raise EvalError(mismatch(value, type_str), label)


class _Evaluator:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    # -- helpers ------------------------------------------------------------

    def fail(self, node: Any, problem: str) -> NoReturn:
        raise EvalError(problem, _short_source(node))

    def text(self, value: Any, node: Any) -> str:
        try:
            return to_text(value)
        except ValueError as exc:
            self.fail(node, f"cannot turn {type_name(value)} into text: {exc}")

    def number(self, value: Any, node: Any) -> Any:
        """An arithmetic result, checked against the value model: a finite
        float, or an int that fits in 64 bits (never wrapped)."""
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(node, "result is not a finite number")
        if isinstance(value, int) and not isinstance(value, bool):
            problem = int64_problem(value)
            if problem is not None:
                self.fail(node, f"integer overflow: the result {problem}")
        return value

    def want_bool(self, value: Any, node: Any) -> bool:
        if not isinstance(value, bool):
            self.fail(node, f"expected bool, got {describe(value)}")
        return value

    def want_str(self, value: Any, node: Any, what: str = "argument") -> str:
        if not isinstance(value, str):
            self.fail(node, f"{what}: expected str, got {describe(value)}")
        return value

    # -- dispatch -------------------------------------------------------------

    def value_of(self, node: Any, depth: int) -> Any:
        if depth > MAX_EXPR_DEPTH:
            raise EvalError(f"expression nested deeper than {MAX_EXPR_DEPTH} levels")
        if not isinstance(node, dict):
            raise EvalError(f"malformed expression: {_preview(node)}")
        if "op" in node:
            return self.op(node, depth + 1)
        if "lit" in node:
            lit = node["lit"]
            if lit is None or isinstance(lit, str | bool | int | float):
                return lit
            raise EvalError(f"malformed literal: {_preview(lit)}")
        if "dur" in node:
            dur = node["dur"]
            if not isinstance(dur, int) or isinstance(dur, bool):
                raise EvalError(f"malformed duration: {_preview(dur)}")
            return dur
        try:
            if "param" in node:
                return self.scope.param(str(node["param"]))
            if "var" in node:
                return self.scope.var(str(node["var"]))
            if "ctx" in node:
                return self.scope.ctx(str(node["ctx"]))
            if "step" in node:
                return self.scope.step_field(str(node["step"]), str(node.get("field")))
            if "self" in node:
                return self.scope.self_field(str(node["self"]))
        except KeyError as exc:
            self.fail(node, f"unknown name {exc}")
        raise EvalError(f"malformed expression: {_preview(node)}")

    def op(self, node: dict[str, Any], depth: int) -> Any:
        op = node["op"]
        args = node.get("args", [])
        if not isinstance(args, list) or not isinstance(op, str):
            raise EvalError(f"malformed expression: {_preview(node)}")
        if op in _LAZY_OPS:
            return _LAZY_OPS[op](self, node, args, depth)
        if op in _CHAIN_OPS and len(args) > 2:
            # `a + b + c`: folded from the left, each operand evaluated when
            # it is needed, exactly as the nested `(a + b) + c` would be
            fold = _EAGER_OPS[op][1]
            result = self.value_of(args[0], depth)
            for arg in args[1:]:
                result = fold(self, node, [result, self.value_of(arg, depth)])
            return result
        values = [self.value_of(a, depth) for a in args]
        if op == "call":
            fn = node.get("fn")
            builtin = _BUILTINS.get(fn) if isinstance(fn, str) else None
            if builtin is None:
                self.fail(node, f"unknown function `{fn}`")
            arity, impl = builtin
            if len(values) != arity:
                self.fail(node, f"`{fn}` takes {arity} argument(s), got {len(values)}")
            return impl(self, node, values)
        if op == "list":
            return values
        if op == "map":
            keys = node.get("keys")
            if not isinstance(keys, list) or len(keys) != len(values):
                raise EvalError(f"malformed map display: {_preview(node)}")
            return {str(k): v for k, v in zip(keys, values, strict=True)}
        if op == "fmt":
            return "".join(self.text(v, a) for v, a in zip(values, args, strict=True))
        if op == "attr":
            return self.attr(node, values)
        impl_op = _EAGER_OPS.get(op) if isinstance(op, str) else None
        if impl_op is None:
            raise EvalError(f"unknown operator {_preview(op)}")
        arity_op, fn_op = impl_op
        if len(values) != arity_op:
            raise EvalError(f"malformed expression: `{op}` needs {arity_op} operand(s)")
        return fn_op(self, node, values)

    # -- lazy operators ---------------------------------------------------------

    def op_coalesce(self, node: dict[str, Any], args: list[Any], depth: int) -> Any:
        value = None
        for arg in args:
            value = self.value_of(arg, depth)
            if value is not None:
                return value
        return value

    def op_if(self, node: dict[str, Any], args: list[Any], depth: int) -> Any:
        if len(args) != 3:
            raise EvalError("malformed expression: `if` needs 3 operands")
        test = self.want_bool(self.value_of(args[0], depth), args[0])
        return self.value_of(args[1] if test else args[2], depth)

    # Plain loops, not all()/any() over a generator: two stack frames fewer
    # per level of a nested expression.
    def op_and(self, node: dict[str, Any], args: list[Any], depth: int) -> Any:
        for arg in args:  # noqa: SIM110
            if not self.want_bool(self.value_of(arg, depth), arg):
                return False
        return True

    def op_or(self, node: dict[str, Any], args: list[Any], depth: int) -> Any:
        for arg in args:  # noqa: SIM110
            if self.want_bool(self.value_of(arg, depth), arg):
                return True
        return False

    # -- member access ------------------------------------------------------------

    def attr(self, node: dict[str, Any], values: list[Any]) -> Any:
        if len(values) != 1:
            raise EvalError("malformed expression: `attr` needs 1 operand")
        obj = values[0]
        name = node.get("name")
        if not isinstance(name, str):
            raise EvalError(f"malformed expression: {_preview(node)}")
        if obj is None:
            return None
        if isinstance(obj, dict):
            return obj.get(name)
        self.fail(node, f"cannot read `.{name}` of {describe(obj)}")


_EagerOp = Callable[[_Evaluator, dict[str, Any], list[Any]], Any]


def _op_not(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
    return not ev.want_bool(v[0], node)


def _op_neg(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
    if not is_number(v[0]):
        ev.fail(node, f"cannot negate {describe(v[0])}")
    return ev.number(-v[0], node)


def _op_eq(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
    return values_equal(v[0], v[1])


def _op_ne(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
    return not values_equal(v[0], v[1])


def _ordering(test: Callable[[Any, Any], bool]) -> _EagerOp:
    def compare(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
        a, b = v
        if (is_number(a) and is_number(b)) or (isinstance(a, str) and isinstance(b, str)):
            return test(a, b)
        ev.fail(node, f"cannot compare {describe(a)} with {describe(b)}")

    return compare


def _membership(ev: _Evaluator, node: dict[str, Any], item: Any, container: Any) -> bool:
    if isinstance(container, list):
        return any(values_equal(item, x) for x in container)
    if isinstance(container, dict):
        if not isinstance(item, str):
            ev.fail(node, f"map keys are strings, got {describe(item)}")
        return item in container
    if isinstance(container, str):
        if not isinstance(item, str):
            ev.fail(node, f"cannot look for {describe(item)} in a string")
        return item in container
    ev.fail(node, f"cannot test membership in {describe(container)}")


def _op_in(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
    return _membership(ev, node, v[0], v[1])


def _op_add(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
    a, b = v
    if is_number(a) and is_number(b):
        try:
            return ev.number(a + b, node)
        except OverflowError:
            ev.fail(node, "number too large")
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, list) and isinstance(b, list):
        return a + b
    ev.fail(node, f"cannot add {describe(a)} and {describe(b)}")


def _arith(symbol: str, fn: Callable[[Any, Any], Any]) -> _EagerOp:
    def apply(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
        a, b = v
        if not (is_number(a) and is_number(b)):
            ev.fail(node, f"`{symbol}` needs two numbers, got {describe(a)} and {describe(b)}")
        if symbol in ("/", "%") and b == 0:
            ev.fail(node, "division by zero")
        if symbol == "%" and not (isinstance(a, int) and isinstance(b, int)):
            ev.fail(node, f"`%` needs two ints, got {describe(a)} and {describe(b)}")
        try:
            return ev.number(fn(a, b), node)
        except OverflowError:
            ev.fail(node, "number too large")

    return apply


def _op_index(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
    obj, key = v
    if obj is None:
        return None
    if isinstance(obj, dict):
        if not isinstance(key, str):
            ev.fail(node, f"map keys are strings, got {describe(key)}")
        return obj.get(key)
    if isinstance(obj, list | str):
        if not isinstance(key, int) or isinstance(key, bool):
            ev.fail(node, f"index must be an int, got {describe(key)}")
        if not 0 <= key < len(obj):
            ev.fail(node, f"index {key} out of range for {type_name(obj)} of length {len(obj)}")
        return obj[key]
    ev.fail(node, f"cannot index {describe(obj)}")


_EAGER_OPS: dict[str, tuple[int, _EagerOp]] = {
    "not": (1, _op_not),
    "neg": (1, _op_neg),
    "==": (2, _op_eq),
    "!=": (2, _op_ne),
    "<": (2, _ordering(lambda a, b: bool(a < b))),
    "<=": (2, _ordering(lambda a, b: bool(a <= b))),
    ">": (2, _ordering(lambda a, b: bool(a > b))),
    ">=": (2, _ordering(lambda a, b: bool(a >= b))),
    "in": (2, _op_in),
    "+": (2, _op_add),
    "-": (2, _arith("-", lambda a, b: a - b)),
    "*": (2, _arith("*", lambda a, b: a * b)),
    "/": (2, _arith("/", lambda a, b: a / b)),
    "%": (2, _arith("%", lambda a, b: a % b)),
    "index": (2, _op_index),
}

_CHAIN_OPS = frozenset({"+", "-", "*", "/", "%"})
"""Arithmetic a run of (`a + b + c`) lowers to one operation of all operands."""

_LAZY_OPS: dict[str, Callable[[_Evaluator, dict[str, Any], list[Any], int], Any]] = {
    "??": _Evaluator.op_coalesce,
    "and": _Evaluator.op_and,
    "or": _Evaluator.op_or,
    "if": _Evaluator.op_if,
}


# --------------------------------------------------------------------------
# built-in functions

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _fn_len(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
    if isinstance(v[0], str | list | dict):
        return len(v[0])
    ev.fail(node, f"`len` needs a string, list or map, got {describe(v[0])}")


def _fn_json(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
    import json

    text = ev.want_str(v[0], node)

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    def finite(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            raise ValueError(f"{literal} is too large for a float")
        return value

    try:
        return json.loads(text, parse_constant=no_constant, parse_float=finite)
    except json.JSONDecodeError as exc:
        ev.fail(node, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except RecursionError:
        ev.fail(node, "invalid JSON: nested too deeply")
    except ValueError as exc:
        ev.fail(node, f"invalid JSON: {exc}")


def _fn_str(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
    return ev.text(v[0], node)


def _fn_int(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
    x = v[0]
    if isinstance(x, bool):
        ev.fail(node, f"cannot convert {describe(x)} to int")
    if isinstance(x, int):
        return ev.number(x, node)
    if isinstance(x, float):
        if not math.isfinite(x):
            ev.fail(node, f"cannot convert {describe(x)} to int")
        return ev.number(int(x), node)
    if isinstance(x, str):
        text = x.strip()
        if _INT_TEXT.fullmatch(text):
            try:
                return ev.number(int(text), node)
            except ValueError:
                ev.fail(node, "number too large")
        ev.fail(node, f"not an integer: {describe(x)}")
    ev.fail(node, f"cannot convert {describe(x)} to int")


def _fn_float(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
    x = v[0]
    if isinstance(x, bool):
        ev.fail(node, f"cannot convert {describe(x)} to float")
    try:
        if isinstance(x, int | float):
            return ev.number(float(x), node)
        if isinstance(x, str):
            text = x.strip()
            if _FLOAT_TEXT.fullmatch(text):
                return ev.number(float(text), node)
            ev.fail(node, f"not a number: {describe(x)}")
    except OverflowError:
        ev.fail(node, "number too large")
    ev.fail(node, f"cannot convert {describe(x)} to float")


def _fn_contains(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
    return _membership(ev, node, v[1], v[0])


def _str_fn(fn: Callable[[str], Any]) -> _EagerOp:
    def apply(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
        return fn(ev.want_str(v[0], node))

    return apply


def _str2_fn(fn: Callable[[str, str], Any]) -> _EagerOp:
    def apply(ev: _Evaluator, node: dict[str, Any], v: list[Any]) -> Any:
        a = ev.want_str(v[0], node, "argument 1")
        b = ev.want_str(v[1], node, "argument 2")
        return fn(a, b)

    return apply


_BUILTINS: dict[str, tuple[int, _EagerOp]] = {
    "len": (1, _fn_len),
    "json": (1, _fn_json),
    "str": (1, _fn_str),
    "int": (1, _fn_int),
    "float": (1, _fn_float),
    "contains": (2, _fn_contains),
    "startswith": (2, _str2_fn(lambda s, p: s.startswith(p))),
    "endswith": (2, _str2_fn(lambda s, p: s.endswith(p))),
    "lower": (1, _str_fn(str.lower)),
    "upper": (1, _str_fn(str.upper)),
    "trim": (1, _str_fn(str.strip)),
    **TEXT_BUILTINS,
}


# --------------------------------------------------------------------------
# source text of an expression, for messages (the IR's one printer)

_MAX_SOURCE = 80


def _short_source(expr: Any) -> str:
    text = expr_text(expr)
    return text if len(text) <= _MAX_SOURCE else text[: _MAX_SOURCE - 1] + "…"


def _preview(value: Any) -> str:
    try:
        text = json_text(value)
    except ValueError:
        text = repr(value)
    return text if len(text) <= _MAX_SOURCE else text[: _MAX_SOURCE - 1] + "…"
