"""Structural validation of an IR document, in time linear in its size.

One iterative pass (an explicit stack, no recursion, so any depth is safe)
walks the document against shape tables that mirror
`schemas/ir.schema.json`: objects with their required and optional keys,
arrays, constrained scalars, node kinds, the action table (`ACTIONS`, one
row per action type) and the expression tables (`EXPR_LEAVES`, `EXPR_OPS`),
where the key that is present (or the `op`) picks the one shape to check, so
nothing is tried twice. Expressions nested deeper than the evaluator can
evaluate (`MAX_EXPR_DEPTH` operators) are refused here, at load time.

The pass stops at the first problem and reports it as `IRProblem(path,
message)`; paths are kept as parent links and only spelt out on failure.
It also collects what the cross-reference check needs (`{"step": X}` reads
per flow), which `compiler.ir` then checks. The JSON Schema stays the
published description; tests keep the two in agreement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from chatflow.deep import MAX_NESTING

MAX_EXPR_DEPTH = MAX_NESTING + 100
"""Most operators (`op` nodes) on any path of one expression tree: the
evaluator's limit, so IR that loads can always be evaluated (in
`deep.room()`). The compiler emits at most one operator per level of source
nesting (MAX_NESTING); the rest is margin."""

Path: TypeAlias = tuple["Path", str | int] | None
"""A JSON path as a parent link: `(parent, key)`, None for the root."""


def path_parts(path: Path) -> list[str | int]:
    """`(((None, "flows"), "f"), "nodes")` → `["flows", "f", "nodes"]`."""
    parts: list[str | int] = []
    while path is not None:
        path, key = path
        parts.append(key)
    parts.reverse()
    return parts


class IRProblem(Exception):
    """The first structural problem found: where, and what."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


# ---------------------------------------------------------------------------- shapes


@dataclass(frozen=True, slots=True)
class Scalar:
    """A JSON scalar: `types` (Python types, bool never counts as a number),
    and optionally a fixed set of values, a pattern, a minimum length or a range."""

    types: tuple[type, ...]
    what: str
    values: tuple[Any, ...] | None = None
    pattern: re.Pattern[str] | None = None
    min_length: int = 0
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True, slots=True)
class Arr:
    items: Shape
    min_items: int = 0
    max_items: int | None = None
    unique: bool = False


@dataclass(frozen=True, slots=True)
class Obj:
    """An object: `required` and `optional` keys; any other key is allowed
    only with `values` (its value's shape) and must then fit `keys`."""

    required: Mapping[str, Shape] = field(default_factory=dict)
    optional: Mapping[str, Shape] = field(default_factory=dict)
    values: Shape | None = None
    keys: Scalar | None = None
    min_keys: int = 0


@dataclass(frozen=True, slots=True)
class Nullable:
    shape: Shape


class _Special:
    """A shape checked by its own code: expressions, templates, nodes, actions."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


Shape: TypeAlias = Scalar | Arr | Obj | Nullable | _Special

EXPR = _Special("expression")
TEMPLATE = _Special("template")
NODE = _Special("node")
ACTION = _Special("action")

_INT = (int,)
_NUM = (int, float)


def _pattern(what: str, regex: str, *, min_length: int = 0) -> Scalar:
    return Scalar((str,), what, pattern=re.compile(regex), min_length=min_length)


def _enum(what: str, *values: Any) -> Scalar:
    return Scalar((str,), what, values=values)


STR = Scalar((str,), "a string")
NONEMPTY = Scalar((str,), "a non-empty string", min_length=1)
IDENT = _pattern("an identifier", r"[A-Za-z_][A-Za-z0-9_]*\Z")
TYPE = _pattern("a type (str, int, float, bool, duration, json, list[T], map[T], T?)",
                r"(str|int|float|bool|duration|json|(list|map)\[[a-z\[\]?]+\])\??\Z")
NAT = Scalar(_INT, "an integer >= 0", minimum=0)
PERCENT = Scalar(_INT, "an integer from 0 to 100", minimum=0, maximum=100)
POSITIVE = Scalar(_INT, "an integer >= 1", minimum=1)
INT = Scalar(_INT, "an integer")
BOOL = Scalar((bool,), "a boolean")
TRUE = Scalar((bool,), "true", values=(True,))
LINE = Scalar(_INT, "a line or column number (>= 1)", minimum=1)
SHA256 = _pattern("a sha256 hex digest", r"[0-9a-f]{64}\Z")
PY_TARGET = _pattern("a Python target `pkg.module:function`",
                     r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*\Z")
LIT_VALUE = Scalar((str, int, float, bool, type(None)), "a string, number, boolean or null")

EXPR_MAP = Obj(values=EXPR)
TYPED_VALUE = Obj(required={"name": IDENT, "type": TYPE, "value": EXPR})

BINDING_NAME = _pattern("a binding name `cf_...`", r"cf_[A-Za-z0-9_]+\Z")

ACTIONS: dict[str, Obj] = {
    "shell": Obj(required={"command": STR, "bindings": Obj(values=EXPR, keys=BINDING_NAME)},
                 optional={"integers": Arr(BINDING_NAME, unique=True), "error": STR}),
    "python": Obj(required={"target": PY_TARGET}),
    "agent": Obj(required={"agent": NONEMPTY}),
    "approve": Obj(required={"message": TEMPLATE}),
    "call": Obj(required={"flow": NONEMPTY, "args": EXPR_MAP}),
    "set": Obj(required={"var": IDENT, "value": EXPR}),
    "fail": Obj(required={"message": TEMPLATE}),
}
"""Action type → its keys besides `type` (required and optional; no others)."""

PLUGIN_ACTION = Obj(
    required={"plugin": Obj(required={"dist": NONEMPTY, "version": NONEMPTY}),
              "options": EXPR_MAP},
    optional={"target": TEMPLATE})
"""Any other `type` (an identifier) is a plugin kind's action (IR version 3)."""
_KIND_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


OPTIONS = Obj(optional={
    "timeout_ms": NAT,
    "retry": Obj(required={"times": NAT, "backoff_ms": NAT}),
    "risk": PERCENT,
    "continue_on_error": TRUE,
    "prompt": TEMPLATE,
    "with": EXPR_MAP,
    "env": EXPR_MAP,
    "cwd": TEMPLATE,
    "out": Arr(TYPED_VALUE),
})


@dataclass(frozen=True, slots=True)
class NodeKind:
    required: tuple[str, ...]
    forbidden: tuple[str, ...]
    max: Shape | None = None  # the shape of `max` when this kind has one


NODE_KINDS: dict[str, NodeKind] = {
    "step": NodeKind(("action", "options"), ("members", "max", "until")),
    "phase": NodeKind(("members",), ("action", "options", "max", "until")),
    "parallel": NodeKind(("members", "max"), ("action", "options", "until"), Nullable(POSITIVE)),
    "repeat": NodeKind(("members", "max", "until"), ("action", "options"), POSITIVE),
}
"""Node kind → the kind-specific keys it must have and must not have."""

IDENTS = Arr(IDENT, unique=True)
NODE_KEYS = Obj(
    required={"id": IDENT, "kind": _enum("a node kind", *NODE_KINDS), "parent": Nullable(IDENT),
              "deps": IDENTS, "when": Nullable(EXPR), "optional": BOOL,
              "fields": Obj(values=TYPE, keys=IDENT)},
    optional={"action": ACTION, "options": OPTIONS, "members": IDENTS,
              "max": Nullable(POSITIVE), "until": EXPR,
              "span": Obj(required={"line": LINE, "column": LINE, "end_line": LINE,
                                    "end_column": LINE})},
)

SETTINGS = Obj(optional={
    "version": STR, "description": STR, "automation": PERCENT, "max_depth": NAT,
    "parallelism": _enum("a parallelism", "sequential", "parallel", "concurrent"),
    "quota": Obj(optional={"tokens": NAT, "cpu_ms": NAT, "wall_ms": NAT, "steps": NAT}),
})

FLOW = Obj(
    required={"name": IDENT,
              "params": Arr(Obj(required={"name": IDENT, "type": TYPE},
                                optional={"default": EXPR})),
              "outputs": Arr(TYPED_VALUE), "settings": SETTINGS, "vars": Arr(TYPED_VALUE),
              "nodes": Arr(NODE)},
    optional={"source": Obj(required={"file": STR, "sha256": SHA256})},
)

DOCUMENT = Obj(required={"ir_version": INT, "entry": NONEMPTY,
                         "flows": Obj(values=FLOW, min_keys=1)})

# ---------------------------------------------------------------------------- expressions

CTX_NAMES = ("instance_id", "feature_id", "automation", "attempt", "depth")

EXPR_LEAVES: dict[str, Mapping[str, Shape]] = {
    "lit": {"lit": LIT_VALUE},
    "dur": {"dur": INT},
    "param": {"param": IDENT},
    "var": {"var": IDENT},
    "ctx": {"ctx": _enum("a context name", *CTX_NAMES)},
    "step": {"step": IDENT, "field": IDENT},
    "self": {"self": IDENT},
}
"""Leaf expressions: the key that picks the shape → all its keys."""

BUILTIN_FUNCTIONS = ("len", "json", "str", "int", "float", "contains", "startswith",
                     "endswith", "lower", "upper", "trim", "matches",
                     "split", "lines", "join", "replace", "match", "env")


@dataclass(frozen=True, slots=True)
class OpShape:
    min_args: int
    max_args: int | None
    extra: Mapping[str, Shape] = field(default_factory=dict)


_UNARY = OpShape(1, 1)
_BINARY = OpShape(2, 2)
_CHAIN = OpShape(2, None)
_ANY = OpShape(0, None)

EXPR_OPS: dict[str, OpShape] = {
    "not": _UNARY, "neg": _UNARY,
    **{op: _CHAIN for op in ("??", "or", "and", "+", "-", "*", "/", "%")},
    **{op: _BINARY for op in ("==", "!=", "<", "<=", ">", ">=", "in", "index")},
    "list": _ANY, "fmt": _ANY,
    "attr": OpShape(1, 1, {"name": IDENT}),
    "call": OpShape(0, None, {"fn": _enum("a built-in function", *BUILTIN_FUNCTIONS)}),
    "map": OpShape(0, None, {"keys": Arr(STR)}),
    "if": OpShape(3, 3),
}
"""Operator → how many `args` it takes and its keys besides `op` and `args`.
A chain operator takes two or more operands, folded from the left."""

_OP_NAMES = ", ".join(EXPR_OPS)
_EXPR_KEYS = ", ".join(f"`{k}`" for k in (*EXPR_LEAVES, "op"))

# ---------------------------------------------------------------------------- the walk


def kind_of(value: Any) -> str:
    """`an object`, `an array`, ... for messages."""
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(value), "a value")


def _shown(value: Any) -> str:
    import json

    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (ValueError, RecursionError):
        text = kind_of(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(slots=True)
class Collected:
    """What the walk found for the cross-reference check: per flow key, the
    `{"step": X}` reads as (path, X)."""

    step_reads: dict[str, list[tuple[Path, str]]] = field(default_factory=dict)
    visited: int = 0
    """How many values the walk checked (linearity is tested on this)."""


# A stack item: (value, shape, path, expression depth, flow key).
_Item = tuple[Any, Shape, Path, int, str]


def check_document(doc: dict[str, Any]) -> Collected:
    """Check `doc` (a dict) against the IR's shape; raise IRProblem at the first problem."""
    found = Collected()
    stack: list[_Item] = [(doc, DOCUMENT, None, 0, "")]
    pop, push = stack.pop, stack.append
    visited = 0
    while stack:
        value, shape, path, depth, flow = pop()
        visited += 1
        t = type(shape)
        if t is Scalar:
            _scalar(value, shape, path)  # type: ignore[arg-type]
        elif t is Obj:
            for key, sub in _object(value, shape, path):  # type: ignore[arg-type]
                # a flow's key travels with everything below it
                push((value[key], sub, (path, key), 0, key if sub is FLOW else flow))
        elif t is Arr:
            items = _array(value, shape, path)  # type: ignore[arg-type]
            sub = shape.items  # type: ignore[union-attr]
            for i in range(len(items) - 1, -1, -1):
                push((items[i], sub, (path, i), 0, flow))
        elif t is Nullable:
            if value is not None:
                push((value, shape.shape, path, depth, flow))  # type: ignore[union-attr]
        elif shape is EXPR or shape is TEMPLATE:
            if shape is TEMPLATE:
                _template(value, path)
            for item in _expression(value, path, depth, flow, found):
                push(item)
        elif shape is NODE:
            for key, sub in _node(value, path):
                push((value[key], sub, (path, key), 0, flow))
        else:  # ACTION
            for key, sub in _action(value, path):
                push((value[key], sub, (path, key), 0, flow))
    found.visited = visited
    return found


def _scalar(value: Any, s: Scalar, path: Path) -> None:
    t = type(value)
    if t not in s.types:
        raise IRProblem(path, f"expected {s.what}, got {kind_of(value)}")
    if s.values is not None and value not in s.values:
        choices = ", ".join(_shown(v) for v in s.values)
        raise IRProblem(path, f"expected {s.what} (one of {choices}), got {_shown(value)}")
    if t is str:
        if len(value) < s.min_length:
            raise IRProblem(path, f"expected {s.what}, got \"\"")
        if s.pattern is not None and s.pattern.match(value) is None:
            raise IRProblem(path, f"{_shown(value)} is not {s.what}")
    elif (s.minimum is not None and value < s.minimum) or \
            (s.maximum is not None and value > s.maximum):
        raise IRProblem(path, f"expected {s.what}, got {value}")


def _want_dict(value: Any, path: Path, what: str = "an object") -> dict[str, Any]:
    if type(value) is not dict:
        raise IRProblem(path, f"expected {what}, got {kind_of(value)}")
    for key in value:
        if type(key) is not str:
            raise IRProblem(path, f"keys must be strings, got {_shown(key)}")
    return value


def _required(value: dict[str, Any], names: Mapping[str, Any] | tuple[str, ...],
              path: Path) -> None:
    for name in names:
        if name not in value:
            raise IRProblem(path, f"'{name}' is a required property")


def _unexpected(path: Path, keys: list[str]) -> IRProblem:
    keys.sort()
    listed = ", ".join(f"'{k}'" for k in keys)
    verb = "was" if len(keys) == 1 else "were"
    return IRProblem(path, f"Additional properties are not allowed ({listed} {verb} unexpected)")


def _object(value: Any, s: Obj, path: Path) -> list[tuple[str, Shape]]:
    """Check an object's own keys; return (key, shape) for its values, in
    reverse order (the caller pushes them on a stack)."""
    d = _want_dict(value, path)
    _required(d, s.required, path)
    if len(d) < s.min_keys:
        raise IRProblem(path, f"expected {_count(s.min_keys, None, 'key')}, got {len(d)}")
    out: list[tuple[str, Shape]] = []
    extra: list[str] = []
    for key in d:
        sub = s.required.get(key) or s.optional.get(key)
        if sub is None:
            if s.values is None:
                extra.append(key)
                continue
            if s.keys is not None and s.keys.pattern is not None \
                    and s.keys.pattern.match(key) is None:
                raise IRProblem(path, f"key {_shown(key)} is not {s.keys.what}")
            sub = s.values
        out.append((key, sub))
    if extra:
        raise _unexpected(path, extra)
    out.reverse()
    return out


def _array(value: Any, s: Arr, path: Path) -> list[Any]:
    if type(value) is not list:
        raise IRProblem(path, f"expected an array, got {kind_of(value)}")
    n = len(value)
    if n < s.min_items or (s.max_items is not None and n > s.max_items):
        raise IRProblem(path, f"expected {_count(s.min_items, s.max_items, 'item')}, got {n}")
    if s.unique:
        seen: set[Any] = set()
        for i, item in enumerate(value):
            if type(item) is str:  # only ids are unique-checked; others fail their shape
                if item in seen:
                    raise IRProblem((path, i), f"{_shown(item)} is listed twice")
                seen.add(item)
    return value


def _count(low: int, high: int | None, noun: str) -> str:
    if high is None:
        return f"at least {low} {noun}{'s' if low != 1 else ''}"
    if low == high:
        return f"{low} {noun}{'s' if low != 1 else ''}"
    return f"{low} to {high} {noun}s"


def _node(value: Any, path: Path) -> list[tuple[str, Shape]]:
    items = _object(value, NODE_KEYS, path)
    kind_name = value["kind"]
    _scalar(kind_name, NODE_KEYS.required["kind"], (path, "kind"))  # type: ignore[arg-type]
    kind = NODE_KINDS[kind_name]
    _required(value, kind.required, path)
    for key in kind.forbidden:
        if key in value:
            raise IRProblem((path, key), f"a {kind_name} node has no `{key}`")
    if kind.max is not None:
        return [(k, kind.max if k == "max" else sub) for k, sub in items]
    return items


def _action(value: Any, path: Path) -> list[tuple[str, Shape]]:
    d = _want_dict(value, path)
    _required(d, ("type",), path)
    type_name = d["type"]
    row = ACTIONS.get(type_name) if type(type_name) is str else None
    if row is None and "plugin" in d and type(type_name) is str \
            and _KIND_NAME.match(type_name):
        row = PLUGIN_ACTION
    if row is None:
        choices = ", ".join(ACTIONS)
        raise IRProblem((path, "type"), f"expected an action type (one of {choices}, or a "
                                        f"plugin's kind with `plugin`), got "
                                        f"{_shown(type_name)}")
    _required(d, row.required, path)
    extra = [k for k in d if k != "type" and k not in row.required and k not in row.optional]
    if extra:
        raise _unexpected(path, extra)
    return [(k, row.required.get(k) or row.optional[k]) for k in reversed(list(d)) if k != "type"]


def _template(value: Any, path: Path) -> None:
    d = _want_dict(value, path, "a template (an object)")
    if d.get("op") != "fmt":
        raise IRProblem(path, f"expected a template (`{{\"op\": \"fmt\", ...}}`), "
                              f"got {_shown(value)}")


def _expression(value: Any, path: Path, depth: int, flow: str,
                found: Collected) -> list[_Item]:
    """Check one expression node; return the items for its operands
    (`depth` counts the operators above this node)."""
    d = _want_dict(value, path, "an expression (an object)")
    if "op" not in d:
        for key, keys in EXPR_LEAVES.items():
            if key in d:
                _required(d, keys, path)
                if len(d) != len(keys):
                    raise _unexpected(path, [k for k in d if k not in keys])
                for k, sub in keys.items():
                    _scalar(d[k], sub, (path, k))  # type: ignore[arg-type]
                if key == "step":
                    found.step_reads.setdefault(flow, []).append(((path, "step"), d["step"]))
                return []
        raise IRProblem(path, f"{_shown(value)} is not a valid expression "
                              f"(it has none of the keys {_EXPR_KEYS})")
    op = d["op"]
    shape = EXPR_OPS.get(op) if type(op) is str else None
    if shape is None:
        if type(op) is not str:
            raise IRProblem((path, "op"), f"expected an operator name, got {kind_of(op)}")
        raise IRProblem((path, "op"), f"unknown operator {_shown(op)} (operators: {_OP_NAMES})")
    _required(d, ("args", *shape.extra), path)
    extra = [k for k in d if k != "op" and k != "args" and k not in shape.extra]
    if extra:
        raise _unexpected(path, extra)
    for k, sub in shape.extra.items():
        if type(sub) is Scalar:
            _scalar(d[k], sub, (path, k))
    args = d["args"]
    if type(args) is not list:
        raise IRProblem((path, "args"), f"expected an array, got {kind_of(args)}")
    n = len(args)
    if n < shape.min_args or (shape.max_args is not None and n > shape.max_args):
        takes = _count(shape.min_args, shape.max_args, "operand")
        raise IRProblem((path, "args"), f"`{op}` takes {takes}, got {n}")
    if op == "map":
        keys = d["keys"]
        if type(keys) is not list:
            raise IRProblem((path, "keys"), f"expected an array, got {kind_of(keys)}")
        for i, k in enumerate(keys):
            if type(k) is not str:
                raise IRProblem(((path, "keys"), i), f"expected a string, got {kind_of(k)}")
        if len(keys) != n:
            raise IRProblem(path, f"a map display has {len(keys)} keys and {n} values")
    if depth >= MAX_EXPR_DEPTH:
        root = path
        for _ in range(2 * depth):  # each operator above adds `.args[i]`
            assert root is not None
            root = root[0]
        raise IRProblem(root, f"expression nested deeper than {MAX_EXPR_DEPTH} operators "
                              "(the evaluator's limit)")
    below = depth + 1
    args_path: Path = (path, "args")
    return [(args[i], EXPR, (args_path, i), below, flow) for i in range(n - 1, -1, -1)]
