"""The typed syntax tree both front-ends (`.flow` and YAML) build.

Every node is a frozen dataclass with a `span`. Nothing here knows about lark
or YAML; the checker and the lowering only ever see these classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from chatflow.diagnostics import Span


@dataclass(frozen=True, slots=True)
class Ident:
    """A name as written, with its own span (for carets under just the name)."""

    name: str
    span: Span


# --------------------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class TypeRef:
    """`str`, `list[int]`, `map[json]?` ... `name` is the head (`list`, `map` or
    a scalar name), `args` the bracketed arguments, `optional` the trailing `?`.
    Unknown names are kept as written; the checker reports them."""

    name: str
    args: tuple[TypeRef, ...]
    optional: bool
    span: Span


# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Literal:
    """`"plain"` (no interpolation), `1`, `2.5`, `true`, `null`."""

    value: str | int | float | bool | None
    span: Span


@dataclass(frozen=True, slots=True)
class DurationLit:
    """`500ms 30s 10m 2h 1d`, normalised to milliseconds; `text` as written."""

    millis: int
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Template:
    """A string literal with at least one `{EXPR}`: alternating text and
    expressions. Escapes are already decoded in the `str` parts."""

    parts: tuple[str | Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Attribute:
    """`value.attr`; `attr_span` covers just the attribute name."""

    value: Expr
    attr: str
    attr_span: Span
    span: Span


@dataclass(frozen=True, slots=True)
class Index:
    value: Expr
    index: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    """A call of a built-in function: `len(x)`, `json(stdout)`."""

    func: Ident
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    """`op` is `"not"` or `"-"`."""

    op: str
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    """`op` is one of `?? or and == != < <= > >= in + - * / %`."""

    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class MapEntry:
    key: Ident
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class MapExpr:
    """`{key: EXPR, ...}`; keys are identifiers or string literals."""

    entries: tuple[MapEntry, ...]
    span: Span


Expr: TypeAlias = (
    Literal | DurationLit | Template | Name | Attribute | Index | Call | Unary | Binary
    | ListExpr | MapExpr
)
"""A string-valued position that allows interpolation holds a `Literal` (no
`{}`) or a `Template`."""
StrExpr: TypeAlias = Literal | Template


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class ShellAction:
    command: StrExpr
    span: Span


@dataclass(frozen=True, slots=True)
class PythonAction:
    target: Literal  # "pkg.module:function"
    span: Span


@dataclass(frozen=True, slots=True)
class AgentAction:
    agent: Literal
    span: Span


@dataclass(frozen=True, slots=True)
class ApproveAction:
    message: StrExpr
    span: Span


@dataclass(frozen=True, slots=True)
class Argument:
    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class CallAction:
    flow: Ident
    args: tuple[Argument, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class SetAction:
    target: Ident
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class FailAction:
    message: StrExpr
    span: Span


@dataclass(frozen=True, slots=True)
class UnknownAction:
    """`step x: frobnicate "..."` — kept so the checker can say
    "unknown action `frobnicate`, did you mean ...". `arg` is what followed."""

    name: Ident
    arg: Expr | None
    span: Span


Action: TypeAlias = (
    ShellAction | PythonAction | AgentAction | ApproveAction | CallAction | SetAction
    | FailAction | UnknownAction
)


# --------------------------------------------------------------------------- step options


@dataclass(frozen=True, slots=True)
class Option:
    """A step option. `name` is one of timeout, risk, continue_on_error,
    prompt, cwd, with, env — or anything else, which the checker reports as
    an unknown option. `value` is None for flags (`continue_on_error`); `with`
    and `env` hold a `MapExpr`."""

    name: Ident
    value: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class RetryOption:
    """`retry N [backoff DURATION]`."""

    times: Expr
    backoff: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class OutField:
    """`out NAME: TYPE = EXPR`."""

    name: Ident
    type: TypeRef
    value: Expr
    span: Span


StepOption: TypeAlias = Option | RetryOption | OutField


# --------------------------------------------------------------------------- flow items


@dataclass(frozen=True, slots=True)
class Setting:
    """`version "1.1"`, `description "..."`, `automation 60`, `max_depth 3`,
    `parallelism "concurrent"`; `name` may be unknown (checker reports it)."""

    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class QuotaEntry:
    key: Ident  # tokens | cpu | wall | steps (others reported by the checker)
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Quota:
    entries: tuple[QuotaEntry, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Var:
    name: Ident
    type: TypeRef
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Step:
    name: Ident
    after: tuple[Ident, ...] | None  # None: no `after` clause (implicit ordering)
    when: Expr | None
    action: Action
    options: tuple[StepOption, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Group:
    """`phase`, `parallel` or `repeat`. `max` is the concurrency limit of a
    `parallel` and the iteration limit of a `repeat`; `until` only on repeat."""

    kind: str  # "phase" | "parallel" | "repeat"
    name: Ident
    after: tuple[Ident, ...] | None
    when: Expr | None
    max: Expr | None
    until: Expr | None
    items: tuple[Item, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class OutputItem:
    """`output NAME = EXPR`."""

    name: Ident
    value: Expr
    span: Span


Item: TypeAlias = Setting | Quota | Var | Step | Group | OutputItem


@dataclass(frozen=True, slots=True)
class Param:
    name: Ident
    type: TypeRef
    default: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class OutputDecl:
    name: Ident
    type: TypeRef
    span: Span


@dataclass(frozen=True, slots=True)
class Flow:
    name: Ident
    params: tuple[Param, ...]
    outputs: tuple[OutputDecl, ...]
    items: tuple[Item, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Import:
    """`import a, b from "std"` or `from "./other.flow"`."""

    names: tuple[Ident, ...]
    source: Literal  # the string literal, value is the path or "std"
    span: Span


@dataclass(frozen=True, slots=True)
class Module:
    """One source file. `path` is as given to the front-end (used in spans)."""

    path: str
    imports: tuple[Import, ...]
    flows: tuple[Flow, ...]
    span: Span


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
