"""ChatFlow value types: parsing a `TypeRef`, rendering, assignability and
unification (the type algebra of docs/language.md §6)."""

from __future__ import annotations

from dataclasses import dataclass

from chatflow.compiler.spelling import did_you_mean
from chatflow.diagnostics import Diagnostic, error
from chatflow.dsl import ast

SCALARS = ("str", "int", "float", "bool", "duration", "json")
CONTAINERS = ("list", "map")


@dataclass(frozen=True, slots=True)
class Type:
    """`kind` is a scalar name, `list`, `map`, `null` (the type of `null`) or
    `error` (the type of an expression already reported as wrong: compatible
    with everything, so one mistake gives one diagnostic). `arg` is the item
    type of a list or map."""

    kind: str
    arg: Type | None = None
    optional: bool = False

    def __str__(self) -> str:
        base = f"{self.kind}[{self.arg}]" if self.kind in CONTAINERS else self.kind
        return base + "?" if self.optional else base

    @property
    def is_error(self) -> bool:
        return self.kind == "error"

    @property
    def is_dynamic(self) -> bool:
        """`json` or `error`: checked at run time / already reported."""
        return self.kind in ("json", "error")

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("int", "float")

    def as_optional(self) -> Type:
        if self.optional or self.kind in ("null", "error"):
            return self
        t = _OPTIONAL.get(self)
        if t is None:
            t = _OPTIONAL[self] = Type(self.kind, self.arg, True)
        return t

    def required(self) -> Type:
        """The type without its `?`."""
        if not self.optional:
            return self
        t = _REQUIRED.get(self)
        if t is None:
            t = _REQUIRED[self] = Type(self.kind, self.arg, False)
        return t


# the checker asks for the same few variants of the same few types all the time
_OPTIONAL: dict[Type, Type] = {}
_REQUIRED: dict[Type, Type] = {}


STR = Type("str")
INT = Type("int")
FLOAT = Type("float")
BOOL = Type("bool")
DURATION = Type("duration")
JSON = Type("json")
NULL = Type("null")
ERROR = Type("error")


def list_of(t: Type) -> Type:
    return Type("list", t)


def map_of(t: Type) -> Type:
    return Type("map", t)


def from_ref(ref: ast.TypeRef) -> tuple[Type, list[Diagnostic]]:
    """The `Type` a written type denotes; unknown names give E0212 and `error`."""
    diags: list[Diagnostic] = []
    t = _from_ref(ref, diags)
    return t, diags


def _from_ref(ref: ast.TypeRef, diags: list[Diagnostic]) -> Type:
    name = ref.name
    if name in SCALARS:
        if ref.args:
            diags.append(error("E0212", f"type `{name}` takes no arguments", ref.span))
            return ERROR
        t = Type(name)
    elif name in CONTAINERS:
        if len(ref.args) != 1:
            diags.append(error(
                "E0212", f"type `{name}` takes exactly one item type, like `{name}[str]`",
                ref.span))
            return ERROR
        t = Type(name, _from_ref(ref.args[0], diags))
    else:
        diags.append(error("E0212", f"unknown type `{name}`", ref.span,
                           did_you_mean(name, SCALARS + CONTAINERS)))
        return ERROR
    return t.as_optional() if ref.optional else t


def assignable(src: Type, dst: Type) -> bool:
    """Can a value of type `src` be used where `dst` is expected?"""
    if src is dst or src.is_dynamic or dst.is_dynamic:
        return True
    if src.kind == "null":
        return dst.optional
    if src.optional and not dst.optional:
        return False
    if src.kind == dst.kind:
        if src.arg is None or dst.arg is None:
            return True
        return assignable(src.arg, dst.arg)
    return src.kind == "int" and dst.kind == "float"


def optional_only_mismatch(src: Type, dst: Type) -> bool:
    """True when `src` would fit `dst` if it were not optional (hint `??`)."""
    return (src.optional or src.kind == "null") and src.kind != "null" \
        and assignable(src.required(), dst)


def unify(a: Type, b: Type) -> Type | None:
    """The common type of two values (list items, `??` sides, `==` operands),
    or None when they are unrelated. Optionality is kept if either side has it."""
    if a is b:
        return a
    if a.is_error or b.is_error:
        return ERROR
    if a.kind == "null":
        return b.as_optional()
    if b.kind == "null":
        return a.as_optional()
    opt = a.optional or b.optional
    if a.kind == "json" or b.kind == "json":
        return JSON.as_optional() if opt else JSON
    base: Type | None
    if a.kind == b.kind:
        if a.optional == b.optional and (a.arg is None or a.arg == b.arg):
            return a
        if a.arg is not None and b.arg is not None:
            inner = unify(a.arg, b.arg)
            if inner is None:
                return None
            base = Type(a.kind, inner)
        else:
            base = Type(a.kind)
    elif {a.kind, b.kind} == {"int", "float"}:
        base = FLOAT
    else:
        return None
    return base.as_optional() if opt else base
