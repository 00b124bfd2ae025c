"""The typed syntax tree both front-ends (`.flow` and YAML) build.

Every node is a frozen dataclass with a `span`. Nothing here knows about lark
or YAML; the checker and the lowering only ever see these classes.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeAlias, TypeVar, dataclass_transform

from chatflow.diagnostics import Span
from chatflow.dsl.dataclasses_shim import fields_for, install_fields

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def _frozen(cls: type[_T]) -> type[_T]:
    """`@dataclass(frozen=True, slots=True)` for a class that lists its
    `__slots__`, without generating and compiling code per class: creating
    these ~40 dataclasses took a quarter of `chatflow lint`'s start-up.

    The classes stay dataclasses (`dataclasses.fields`, `replace`,
    `is_dataclass`, `asdict` work) and keep the same constructor (positional
    or keyword), `==`, `hash`, `repr`, `__match_args__`, pickling, and
    immutability (`dataclasses.FrozenInstanceError`). Where the standard
    library's private field marker is missing, the real decorator is used."""
    annotations = inspect.get_annotations(cls)  # (dataclasses imports inspect anyway)
    names = tuple(annotations)  # the fields, in order (`__slots__` order does not matter)
    if set(names) != set(cls.__slots__) or len(names) < 2:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__qualname__}: __slots__ must list the annotated fields")
    fields = fields_for(annotations)
    if fields is None:  # pragma: no cover - other Python implementations
        return dataclasses.dataclass(frozen=True)(cls)
    setters = tuple(getattr(cls, name).__set__ for name in names)
    n = len(names)
    qualname = cls.__qualname__
    values = attrgetter(*names)  # every node has two fields or more: a tuple

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs or len(args) != n:
            args = _bind(qualname, names, args, kwargs)
        for put, value in zip(setters, args, strict=True):
            put(self, value)

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in zip(names, values(self), strict=True))
        return f"{qualname}({inner})"

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            return bool(values(self) == values(other))
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(values(self))

    def __getstate__(self: Any) -> list[Any]:
        return list(values(self))

    def __setstate__(self: Any, state: list[Any]) -> None:
        for put, value in zip(setters, state, strict=True):
            put(self, value)

    methods: dict[str, Callable[..., Any]] = {
        "__init__": __init__, "__repr__": __repr__, "__eq__": __eq__, "__hash__": __hash__,
        "__setattr__": _no_assign, "__delattr__": _no_delete,
        "__getstate__": __getstate__, "__setstate__": __setstate__,
    }
    for attr, fn in methods.items():
        fn.__qualname__ = f"{qualname}.{attr}"
        setattr(cls, attr, fn)
    install_fields(cls, fields)
    cls.__match_args__ = names  # type: ignore[attr-defined,misc]
    return cls


def _bind(qualname: str, names: tuple[str, ...], args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Positional and keyword arguments in field order, or the TypeError a
    dataclass `__init__` would raise."""
    if len(args) > len(names):
        raise TypeError(f"{qualname}.__init__() takes {len(names) + 1} positional arguments "
                        f"but {len(args) + 1} were given")
    values = dict(zip(names, args, strict=False))
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument {key!r}")
        if key in values:
            raise TypeError(f"{qualname}.__init__() got multiple values for argument {key!r}")
        values[key] = value
    missing = [k for k in names if k not in values]
    if missing:
        raise TypeError(f"{qualname}.__init__() missing {len(missing)} required "
                        f"argument(s): {', '.join(repr(k) for k in missing)}")
    return tuple(values[k] for k in names)


def _no_assign(self: object, name: str, value: object) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _no_delete(self: object, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


@_frozen
class Ident:
    """A name as written, with its own span (for carets under just the name)."""

    __slots__ = ("name", "span")
    name: str
    span: Span


# --------------------------------------------------------------------------- types


@_frozen
class TypeRef:
    """`str`, `list[int]`, `map[json]?` ... `name` is the head (`list`, `map` or
    a scalar name), `args` the bracketed arguments, `optional` the trailing `?`.
    Unknown names are kept as written; the checker reports them."""

    __slots__ = ("args", "name", "optional", "span")
    name: str
    args: tuple[TypeRef, ...]
    optional: bool
    span: Span


# --------------------------------------------------------------------------- expressions


@_frozen
class Literal:
    """`"plain"` (no interpolation), `1`, `2.5`, `true`, `null`."""

    __slots__ = ("span", "value")
    value: str | int | float | bool | None
    span: Span


@_frozen
class DurationLit:
    """`500ms 30s 10m 2h 1d`, normalised to milliseconds; `text` as written."""

    __slots__ = ("millis", "span", "text")
    millis: int
    text: str
    span: Span


@_frozen
class Template:
    """A string literal with at least one `{EXPR}`: alternating text and
    expressions. Escapes are already decoded in the `str` parts."""

    __slots__ = ("parts", "span")
    parts: tuple[str | Expr, ...]
    span: Span


@_frozen
class Name:
    __slots__ = ("name", "span")
    name: str
    span: Span


@_frozen
class Attribute:
    """`value.attr`; `attr_span` covers just the attribute name."""

    __slots__ = ("attr", "attr_span", "span", "value")
    value: Expr
    attr: str
    attr_span: Span
    span: Span


@_frozen
class Index:
    __slots__ = ("index", "span", "value")
    value: Expr
    index: Expr
    span: Span


@_frozen
class Call:
    """A call of a built-in function: `len(x)`, `json(stdout)`."""

    __slots__ = ("args", "func", "span")
    func: Ident
    args: tuple[Expr, ...]
    span: Span


@_frozen
class Unary:
    """`op` is `"not"` or `"-"`."""

    __slots__ = ("op", "operand", "span")
    op: str
    operand: Expr
    span: Span


@_frozen
class Binary:
    """`op` is one of `?? or and == != < <= > >= in + - * / %`."""

    __slots__ = ("left", "op", "right", "span")
    op: str
    left: Expr
    right: Expr
    span: Span


@_frozen
class Cond:
    """`if cond then then else orelse`; only the branch taken is evaluated."""

    __slots__ = ("cond", "orelse", "span", "then")
    cond: Expr
    then: Expr
    orelse: Expr
    span: Span


@_frozen
class ListExpr:
    __slots__ = ("items", "span")
    items: tuple[Expr, ...]
    span: Span


@_frozen
class MapEntry:
    __slots__ = ("key", "span", "value")
    key: Ident
    value: Expr
    span: Span


@_frozen
class MapExpr:
    """`{key: EXPR, ...}`; keys are identifiers or string literals."""

    __slots__ = ("entries", "span")
    entries: tuple[MapEntry, ...]
    span: Span


Expr: TypeAlias = (
    Literal | DurationLit | Template | Name | Attribute | Index | Call | Unary | Binary
    | ListExpr | MapExpr | Cond
)
"""A string-valued position that allows interpolation holds a `Literal` (no
`{}`) or a `Template`."""
StrExpr: TypeAlias = Literal | Template


# --------------------------------------------------------------------------- actions


@_frozen
class ShellAction:
    __slots__ = ("command", "span")
    command: StrExpr
    span: Span


@_frozen
class PythonAction:
    __slots__ = ("span", "target")
    target: Literal  # "pkg.module:function"
    span: Span


@_frozen
class AgentAction:
    __slots__ = ("agent", "span")
    agent: Literal
    span: Span


@_frozen
class ApproveAction:
    __slots__ = ("message", "span")
    message: StrExpr
    span: Span


@_frozen
class Argument:
    __slots__ = ("name", "span", "value")
    name: Ident
    value: Expr
    span: Span


@_frozen
class CallAction:
    __slots__ = ("args", "flow", "span")
    flow: Ident
    args: tuple[Argument, ...]
    span: Span


@_frozen
class SetAction:
    __slots__ = ("span", "target", "value")
    target: Ident
    value: Expr
    span: Span


@_frozen
class FailAction:
    __slots__ = ("message", "span")
    message: StrExpr
    span: Span


@_frozen
class UnknownAction:
    """`step x: KIND "target"` for a kind without syntax of its own: a
    plugin's kind (`http "https://..."`, docs/plugins.md) when the registry
    knows `name`, else an unknown action the checker reports ("unknown action
    `frobnicate`, did you mean ..."). `arg` is the target, if any."""

    __slots__ = ("arg", "name", "span")
    name: Ident
    arg: Expr | None
    span: Span


Action: TypeAlias = (
    ShellAction | PythonAction | AgentAction | ApproveAction | CallAction | SetAction
    | FailAction | UnknownAction
)


# --------------------------------------------------------------------------- step options


@_frozen
class Option:
    """A step option. `name` is one of timeout, risk, continue_on_error,
    prompt, cwd, with, env — or anything else, which the checker reports as
    an unknown option. `value` is None for flags (`continue_on_error`); `with`
    and `env` hold a `MapExpr`."""

    __slots__ = ("name", "span", "value")
    name: Ident
    value: Expr | None
    span: Span


@_frozen
class RetryOption:
    """`retry N [backoff DURATION]`."""

    __slots__ = ("backoff", "span", "times")
    times: Expr
    backoff: Expr | None
    span: Span


@_frozen
class OutField:
    """`out NAME: TYPE = EXPR`."""

    __slots__ = ("name", "span", "type", "value")
    name: Ident
    type: TypeRef
    value: Expr
    span: Span


StepOption: TypeAlias = Option | RetryOption | OutField


# --------------------------------------------------------------------------- flow items


@_frozen
class Setting:
    """`version "1.1"`, `description "..."`, `automation 60`, `max_depth 3`,
    `parallelism "concurrent"`; `name` may be unknown (checker reports it)."""

    __slots__ = ("name", "span", "value")
    name: Ident
    value: Expr
    span: Span


@_frozen
class QuotaEntry:
    __slots__ = ("key", "span", "value")
    key: Ident  # tokens | cpu | wall | steps (others reported by the checker)
    value: Expr
    span: Span


@_frozen
class Quota:
    __slots__ = ("entries", "span")
    entries: tuple[QuotaEntry, ...]
    span: Span


@_frozen
class Var:
    __slots__ = ("name", "span", "type", "value")
    name: Ident
    type: TypeRef
    value: Expr
    span: Span


@_frozen
class Step:
    __slots__ = ("action", "after", "name", "options", "span", "when")
    name: Ident
    after: tuple[Ident, ...] | None  # None: no `after` clause (implicit ordering)
    when: Expr | None
    action: Action
    options: tuple[StepOption, ...]
    span: Span


@_frozen
class Group:
    """`phase`, `parallel` or `repeat`. `max` is the concurrency limit of a
    `parallel` and the iteration limit of a `repeat`; `until` only on repeat."""

    __slots__ = ("after", "items", "kind", "max", "name", "span", "until", "when")
    kind: str  # "phase" | "parallel" | "repeat"
    name: Ident
    after: tuple[Ident, ...] | None
    when: Expr | None
    max: Expr | None
    until: Expr | None
    items: tuple[Item, ...]
    span: Span


@_frozen
class OutputItem:
    """`output NAME = EXPR`."""

    __slots__ = ("name", "span", "value")
    name: Ident
    value: Expr
    span: Span


Item: TypeAlias = Setting | Quota | Var | Step | Group | OutputItem


@_frozen
class Param:
    __slots__ = ("default", "name", "span", "type")
    name: Ident
    type: TypeRef
    default: Expr | None
    span: Span


@_frozen
class OutputDecl:
    __slots__ = ("name", "span", "type")
    name: Ident
    type: TypeRef
    span: Span


@_frozen
class Flow:
    __slots__ = ("items", "name", "outputs", "params", "span")
    name: Ident
    params: tuple[Param, ...]
    outputs: tuple[OutputDecl, ...]
    items: tuple[Item, ...]
    span: Span


@_frozen
class Import:
    """`import a, b from "std"` or `from "./other.flow"`."""

    __slots__ = ("names", "source", "span")
    names: tuple[Ident, ...]
    source: Literal  # the string literal, value is the path or "std"
    span: Span


@_frozen
class Module:
    """One source file. `path` is as given to the front-end (used in spans)."""

    __slots__ = ("flows", "imports", "path", "span")
    path: str
    imports: tuple[Import, ...]
    flows: tuple[Flow, ...]
    span: Span


def maker(cls: type[_T]) -> Callable[..., _T]:
    """A positional constructor for a frozen slots dataclass that fills the
    slots directly. A frozen dataclass's `__init__` goes through
    `object.__setattr__` for every field, about twice as slow, and these
    constructors run once or more per token: they are the parser's hot path.
    The objects are ordinary instances (equality, hashing, repr unchanged)."""
    sets = [getattr(cls, f.name).__set__ for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    new = object.__new__
    if len(sets) == 2:
        s0, s1 = sets

        def make2(a: object, b: object) -> _T:
            o = new(cls)
            s0(o, a)
            s1(o, b)
            return o
        return make2
    if len(sets) == 4:
        s0, s1, s2, s3 = sets

        def make4(a: object, b: object, c: object, d: object) -> _T:
            o = new(cls)
            s0(o, a)
            s1(o, b)
            s2(o, c)
            s3(o, d)
            return o
        return make4
    if len(sets) == 7:
        s0, s1, s2, s3, s4, s5, s6 = sets

        def make7(a: object, b: object, c: object, d: object, e: object, f: object,
                  g: object) -> _T:
            o = new(cls)
            s0(o, a)
            s1(o, b)
            s2(o, c)
            s3(o, d)
            s4(o, e)
            s5(o, f)
            s6(o, g)
            return o
        return make7
    return cls


def iter_items(items: tuple[Item, ...]) -> list[Item]:
    """All items, groups' members included, in source order (pre-order)."""
    out: list[Item] = []
    stack = list(reversed(items))
    while stack:
        item = stack.pop()
        out.append(item)
        if isinstance(item, Group):
            stack.extend(reversed(item.items))
    return out
