"""Expression typing: the type of every expression of a flow, the names and
step fields it reads, and the problems found inside expressions (unknown
names and fields, operator and built-in misuse, optional values used as
required ones). The rules in `rules/` use the result; this module only types
the root expressions that `sites` finds.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from chatflow.compiler.graph import FlowGraph
from chatflow.compiler.holes import after_dollar, unknown_in_hole
from chatflow.compiler.sites import (
    CONSTANT_OPTIONS,
    OPTION_TYPES,
    OPTION_WORDS,
    OPTIONAL_HINT,
    QUOTA_TYPES,
    SETTING_TYPES,
    Site,
    constant_value,
    is_constant,
    iter_sites,
    mismatch,
    swallowed_value,
)
from chatflow.compiler.spelling import did_you_mean, suggest
from chatflow.compiler.symbols import (
    ACTION_FIELDS,
    CTX_FIELDS,
    REPEAT_FIELDS,
    FlowSymbols,
    Signature,
    action_fields,
)
from chatflow.compiler.text_builtins import TEXT_BUILTINS, accepts
from chatflow.compiler.types import (
    BOOL,
    DURATION,
    ERROR,
    FLOAT,
    INT,
    JSON,
    NULL,
    STR,
    Type,
    list_of,
    map_of,
    unify,
)
from chatflow.diagnostics import Diagnostic, Span, error, warning
from chatflow.dsl import ast

# typing, and where expressions stand (`sites`: the rules read those from here too)
__all__ = [
    "BUILTINS", "CONSTANT_OPTIONS", "OPTIONAL_HINT", "OPTION_TYPES", "OPTION_WORDS", "QUOTA_TYPES",
    "SETTING_TYPES", "Read", "Site", "TypedFlow", "constant_value", "is_constant", "iter_sites",
    "mismatch", "swallowed_value", "type_flow",
]

BUILTINS = ("len", "json", "str", "int", "float", "contains", "startswith", "endswith",
            "lower", "upper", "trim", "matches", *TEXT_BUILTINS)

@dataclass(slots=True)
class Read:
    """`target.field` read by an expression owned by `owner` (a step or
    group; None for vars, outputs, defaults and settings)."""

    owner: str | None
    place: str
    target: str
    field: str
    span: Span


@dataclass
class TypedFlow:
    types: dict[int, Type] = field(default_factory=dict)   # id(root expr or hole) -> type
    sites: list[Site] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)
    used_names: set[str] = field(default_factory=set)     # params and vars read
    # (owner, place, name) of every param or var read, like `reads` for fields
    name_reads: list[tuple[str | None, str, str]] = field(default_factory=list)
    used_fields: set[tuple[str, str]] = field(default_factory=set)
    diags: list[Diagnostic] = field(default_factory=list)

    skippable: set[int] = field(default_factory=set)  # id(root expr) reading a `T?` field

    def type_of(self, expr: ast.Expr) -> Type:
        return self.types.get(id(expr), ERROR)

    def mismatch(self, site: Site) -> tuple[str, str, str | None] | None:
        """`mismatch` of a root expression with its type as typed here."""
        return mismatch(site, self.type_of(site.expr), id(site.expr) in self.skippable)

    def reported(self, code: str) -> list[Diagnostic]:
        return [d for d in self.diags if d.code == code]


# --------------------------------------------------------------------------- typing


def type_flow(flow: ast.Flow, syms: FlowSymbols, graph: FlowGraph,
              signatures: dict[str, Signature] | None = None,
              source: str | None = None) -> TypedFlow:
    """Type every expression of `flow` once; `source` is the text of its
    file (for the exact place of a message about braces)."""
    out = TypedFlow()
    for site in iter_sites(flow, syms):
        if site.constant and not is_constant(site.expr):
            # reported by the constant rule; typed aside only so the names it
            # reads count as used (no "unused param" on top)
            aside = TypedFlow()
            _Typer(syms, aside, site.owner, site.place, None, source).type(site.expr)
            out.used_names |= aside.used_names
            out.used_fields |= aside.used_fields
            out.types[id(site.expr)] = ERROR
            out.sites.append(site)
            continue
        own: dict[str, Type] | None = None
        if site.place == "out" and site.owner is not None:
            own = _own_fields_before(syms, site)
        typer = _Typer(syms, out, site.owner, site.place, own, source)
        out.types[id(site.expr)] = typer.type(site.expr)
        if typer.read_skippable:
            out.skippable.add(id(site.expr))
        out.sites.append(site)
    return out


def _own_fields_before(syms: FlowSymbols, site: Site) -> dict[str, Type]:
    """A step's fields in scope in its `out` expression: the action's own
    fields and the `out` fields written before this one (never optional
    here). An `out` named like an action field (`out ok`) reads the action's
    field inside its own expression and earlier ones."""
    assert site.owner is not None
    outs = syms.out_fields.get(site.owner, {})
    fields = syms.fields.get(site.owner, {})
    step = syms.names[site.owner].node
    assert isinstance(step, ast.Step)
    scope = dict(action_fields(step.action, syms.callees.get(site.owner)))
    for opt in step.options:
        if not isinstance(opt, ast.OutField):
            continue
        if opt.value is site.expr:
            break
        if outs.get(opt.name.name) is opt:
            scope[opt.name.name] = fields.get(opt.name.name, ERROR)
    return scope


class _Typer:
    def __init__(self, syms: FlowSymbols, out: TypedFlow, owner: str | None, place: str,
                 own: dict[str, Type] | None, source: str | None = None) -> None:
        self.syms = syms
        self.source = source
        self.hole: tuple[ast.Template, int] | None = None  # a name alone in a hole
        self.out = out
        self.owner = owner
        self.place = place
        self.own = own
        self.read_skippable = False  # read a field of a step that may not run

    def report(self, code: str, message: str, span: Span, hint: str | None = None) -> Type:
        self.out.diags.append(error(code, message, span, hint))
        return ERROR

    def need(self, t: Type, accept: Callable[[Type], bool], span: Span, what: str,
             code: str = "E0301") -> bool:
        """Check an operand; reports E0302 for an optional that would fit.
        `accept` looks at the kind only, so optionality is checked here."""
        if t.is_dynamic or (not t.optional and t.kind != "null" and accept(t)):
            return True
        if t.optional and accept(t.required()):
            self.report("E0302", f"{what}, but this may be null (`{t}`)", span, OPTIONAL_HINT)
        else:
            self.report(code, f"{what}, found `{t}`", span)
        return False

    # ------------------------------------------------------------------ dispatch

    def type(self, e: ast.Expr) -> Type:
        return _DISPATCH[type(e)](self, e)

    def literal(self, e: ast.Literal) -> Type:
        v = e.value
        if v is None:
            return NULL
        if isinstance(v, bool):
            return BOOL
        if isinstance(v, int):
            return INT
        if isinstance(v, float):
            return FLOAT
        return STR

    def duration(self, e: ast.DurationLit) -> Type:
        return DURATION

    def template(self, e: ast.Template) -> Type:
        for i, part in enumerate(e.parts):
            if not isinstance(part, str):
                self.hole = (e, i) if type(part) is ast.Name else None
                # kept: the shell rules ask for the type of a command's holes
                self.out.types[id(part)] = self.type(part)
        self.hole = None
        return STR

    # ------------------------------------------------------------------ names

    def name(self, e: ast.Name) -> Type:
        n = e.name
        if self.own is not None and n in self.own:
            assert self.owner is not None
            self.out.used_fields.add((self.owner, n))
            if n in self.syms.names or n == "ctx":
                self.out.diags.append(warning(
                    "W0105", f"`{n}` here is the step's own field `{n}`, which shadows "
                    f"the {self._kind_of(n)} `{n}`", e.span,
                    f"rename the {self._kind_of(n)} to avoid confusion"))
            return self.own[n]
        sym = self.syms.lookup(n)
        if sym is not None:
            if sym.kind in ("param", "var"):
                self.out.used_names.add(n)
                self.out.name_reads.append((self.owner, self.place, n))
                return sym.type or ERROR
            fields = ", ".join(f"`{n}.{f}`" for f in self.syms.field_names(n)[:3])
            return self.report(
                "E0214", f"`{n}` is a {sym.kind}, not a value", e.span,
                f"read one of its fields, like {fields}" if fields else None)
        if n == "ctx":
            return self.report("E0214", "`ctx` is not a value", e.span,
                               "read one of its fields, like `ctx.instance_id`")
        candidates = list(self.syms.names) + (list(self.own) if self.own else [])
        guess = suggest(n, candidates)
        hole = self.hole
        if hole is not None and hole[0].parts[hole[1]] is e and (
                after_dollar(hole[0], hole[1])
                or (guess is None and self._unknown_name_hint(n) is None)):
            return self.report("E0201", *unknown_in_hole(e, hole[0], hole[1], self.source))
        if guess is not None:
            # the misspelt use is the use: no "unused param" warning on top
            self.out.used_names.add(guess)
            hint: str | None = f"did you mean `{guess}`?"
        else:
            hint = self._unknown_name_hint(n)
        return self.report("E0201", f"unknown name `{n}`", e.span, hint)

    def _unknown_name_hint(self, n: str) -> str | None:
        if n in BUILTINS:
            return f"`{n}` is a built-in function: call it, like `{n}(...)`"
        if self.own is not None and self.owner is not None \
                and n in self.syms.out_fields.get(self.owner, {}):
            return (f"`{n}` is an `out` field written later in this step; an `out` reads "
                    "only the action's fields and the `out` fields before it")
        if self.own is not None:
            listing = ", ".join(f"`{f}`" for f in self.own)
            return f"in this `out`, the step's fields in scope are: {listing}" if listing \
                else None
        if n in _FIELD_NAMES:
            return (f"`{n}` is a step field: read it as `STEP.{n}`; only a step's `out` "
                    "reads its own fields by bare name")
        return None

    def _kind_of(self, n: str) -> str:
        sym = self.syms.lookup(n)
        return sym.kind if sym is not None else "context"

    def attribute(self, e: ast.Attribute) -> Type:
        base = e.value
        if isinstance(base, ast.Name) and not (self.own is not None and base.name in self.own):
            n = base.name
            sym = self.syms.lookup(n)
            if sym is not None and sym.kind in ("step", "group"):
                return self.field(n, e)
            if sym is None and n == "ctx":
                t = CTX_FIELDS.get(e.attr)
                if t is None:
                    listing = ", ".join(f"`{f}`" for f in CTX_FIELDS)
                    return self.report("E0210", f"`ctx` has no field `{e.attr}`", e.attr_span,
                                       did_you_mean(e.attr, CTX_FIELDS)
                                       or f"fields of `ctx`: {listing}")
                return t
        t = self.type(base)
        if t.is_error:
            return ERROR
        if t.optional or t.kind == "null":
            return self.report(
                "E0312", f"cannot read `.{e.attr}` of a value that may be null (`{t}`)",
                e.span, "unwrap it with `??` first, like `(x ?? default)." + e.attr + "`")
        if t.kind == "json":
            return JSON
        if t.kind == "map":
            assert t.arg is not None
            return t.arg
        return self.report("E0210", f"`{t}` has no field `{e.attr}`", e.attr_span)

    def field(self, node: str, e: ast.Attribute) -> Type:
        if self.own is not None and node == self.owner:
            # a step's `out` reading its own fields by `STEP.field`
            t = self.own.get(e.attr)
            if t is not None:
                self.out.used_fields.add((node, e.attr))
                return t
        t = self.syms.field_type(node, e.attr)
        if t is None:
            names = self.syms.field_names(node)
            hint = did_you_mean(e.attr, names)
            if hint is None:
                hint = (f"fields of `{node}`: " + ", ".join(f"`{f}`" for f in names)
                        if names else f"`{node}` has no fields")
            return self.report("E0210", f"`{node}` has no field `{e.attr}`", e.attr_span, hint)
        self.out.used_fields.add((node, e.attr))
        self.out.reads.append(Read(self.owner, self.place, node, e.attr, e.span))
        if self.syms.optional.get(node, False):
            self.read_skippable = True
        return t

    def index(self, e: ast.Index) -> Type:
        t = self.type(e.value)
        i = self.type(e.index)
        if t.is_error:
            return ERROR
        if t.optional or t.kind == "null":
            return self.report("E0312", f"cannot index a value that may be null (`{t}`)",
                               e.span, "unwrap it with `??` first, like `(x ?? default)[i]`")
        if t.kind == "json":
            self.need(i, lambda x: x.kind in ("int", "str"), e.index.span,
                      "an index must be `int` or `str`")
            return JSON
        if t.kind in ("list", "str"):
            self.need(i, lambda x: x.kind == "int", e.index.span,
                      f"a `{t.kind}` index must be `int`")
            return STR if t.kind == "str" else (t.arg or ERROR)
        if t.kind == "map":
            self.need(i, lambda x: x.kind == "str", e.index.span, "a map key must be `str`")
            return t.arg or ERROR
        return self.report("E0301", f"cannot index a value of type `{t}`", e.value.span)

    # ------------------------------------------------------------------ calls

    def call(self, e: ast.Call) -> Type:
        fn = e.func.name
        args = [self.type(a) for a in e.args]
        if fn not in BUILTINS:
            return self.report("E0211", f"unknown function `{fn}`", e.func.span,
                               did_you_mean(fn, BUILTINS)
                               or "built-in functions: " + ", ".join(BUILTINS))
        text = TEXT_BUILTINS.get(fn)
        arity = len(text[0]) if text is not None else \
            2 if fn in ("contains", "startswith", "endswith", "matches") else 1
        if len(args) != arity:
            s = "" if arity == 1 else "s"
            return self.report("E0310", f"`{fn}` takes {arity} argument{s}, found {len(args)}",
                               e.span)

        def arg(i: int, kinds: tuple[str, ...]) -> bool:
            names = " or ".join(f"`{k}`" for k in kinds)
            return self.need(args[i], lambda t: t.kind in kinds, e.args[i].span,
                             f"argument {i + 1} of `{fn}` must be {names}", "E0310")

        if text is not None:
            ok = True
            for i, (t, want) in enumerate(zip(args, text[0], strict=True)):
                ok = self.need(t, partial(accepts, want), e.args[i].span,
                               f"argument {i + 1} of `{fn}` must be `{want}`", "E0310") and ok
            if ok and fn == "match":
                self.check_regex(e.args[1])
            return text[1]
        if fn == "len":
            arg(0, ("str", "list", "map"))
            return INT
        if fn == "json":
            arg(0, ("str",))
            return JSON
        if fn == "str":
            return STR
        if fn in ("int", "float"):
            arg(0, ("str", "int", "float"))
            return INT if fn == "int" else FLOAT
        if fn in ("lower", "upper", "trim"):
            arg(0, ("str",))
            return STR
        if fn == "contains":
            if arg(0, ("str", "list", "map")):
                hay = args[0]
                if hay.kind == "list" and hay.arg is not None:
                    self.need(args[1], lambda t: unify(t, hay.arg or ERROR) is not None,
                              e.args[1].span, f"argument 2 of `contains` must fit `{hay.arg}`",
                              "E0310")
                elif hay.kind in ("str", "map"):
                    arg(1, ("str",))
            return BOOL
        arg(0, ("str",))
        if arg(1, ("str",)) and fn == "matches":
            self.check_regex(e.args[1])
        return BOOL

    def check_regex(self, pattern: ast.Expr) -> None:
        if isinstance(pattern, ast.Literal) and isinstance(pattern.value, str):
            try:
                with warnings.catch_warnings():  # FutureWarning on `[[`: not ours to print
                    warnings.simplefilter("ignore")
                    re.compile(pattern.value)
            except re.error as err:
                self.report("E0310", f"invalid regular expression: {err}", pattern.span)

    def cond(self, e: ast.Cond) -> Type:
        ct = self.type(e.cond)
        ok = self.need(ct, lambda x: x.kind == "bool", e.cond.span,
                       "the condition of `if` must be `bool`")
        a, b = self.type(e.then), self.type(e.orelse)
        if a.is_error or b.is_error or not ok:
            return ERROR
        t = unify(a, b)
        if t is None:
            return self.report("E0301", f"the branches of `if` differ: `{a}` and `{b}`", e.span,
                               "both branches must have one type")
        return t

    # ------------------------------------------------------------------ operators

    def unary(self, e: ast.Unary) -> Type:
        t = self.type(e.operand)
        if e.op == "not":
            ok = self.need(t, lambda x: x.kind == "bool", e.operand.span, "`not` needs `bool`")
            return BOOL if ok and not t.is_error else ERROR
        if self.need(t, lambda x: x.kind in ("int", "float", "duration"), e.operand.span,
                     "`-` needs a number or a duration"):
            return t.required() if not t.is_dynamic else t
        return ERROR

    def binary(self, e: ast.Binary) -> Type:
        # A run of one operator (`a and b and c`) is a left-nested tree as deep
        # as the run is long: walk it as a list, not by recursion.
        run = [e]
        first = e.left
        while type(first) is ast.Binary and first.op == e.op:
            run.append(first)
            first = first.left
        lt = self.type(first)
        for node in reversed(run):
            lt = self.binary_of(node, lt, self.type(node.right))
        return lt

    def binary_of(self, e: ast.Binary, lt: Type, rt: Type) -> Type:
        """The type of `e` with operand types `lt` and `rt`."""
        op = e.op
        if op == "??":
            return self.coalesce(e, lt, rt)
        if op in ("and", "or"):
            left = self.need(lt, lambda x: x.kind == "bool", e.left.span, f"`{op}` needs `bool`")
            right = self.need(rt, lambda x: x.kind == "bool", e.right.span,
                              f"`{op}` needs `bool`")
            # after a reported operand the result is `error`: nothing more about it
            return BOOL if left and right and not (lt.is_error or rt.is_error) else ERROR
        if lt.is_error or rt.is_error:
            return ERROR
        if op in ("==", "!="):
            if unify(lt, rt) is None:
                # the result is `error`, not `bool`: one mistake, one diagnostic
                return self.report(
                    "E0311", f"cannot compare `{lt}` with `{rt}`", e.span,
                    "values of unrelated types are never equal; convert one side "
                    "with `str(...)`, `int(...)` or `float(...)`")
            return BOOL
        for side, t in ((e.left, lt), (e.right, rt)):
            if t.optional or t.kind == "null":
                self.report("E0302", f"`{op}` needs a value, but this may be null (`{t}`)",
                            side.span, OPTIONAL_HINT)
                return BOOL if op in ("<", "<=", ">", ">=", "in") else ERROR
        if op in ("<", "<=", ">", ">="):
            if not (lt.is_dynamic or rt.is_dynamic or (lt.is_numeric and rt.is_numeric)
                    or (lt.kind == rt.kind and lt.kind in ("str", "duration"))):
                return self.report(
                    "E0311", f"cannot compare `{lt}` with `{rt}` using `{op}`", e.span,
                    "order comparisons need two numbers, two strings or two durations")
            return BOOL
        if op == "in":
            return self.membership(e, lt, rt)
        return self.arithmetic(e, lt, rt)

    def coalesce(self, e: ast.Binary, lt: Type, rt: Type) -> Type:
        if lt.is_error or rt.is_error:
            return ERROR if lt.is_error and rt.is_error else (rt if lt.is_error else lt.required())
        if lt.kind == "null":
            return rt
        t = unify(lt.required(), rt)
        if t is None:
            return self.report("E0301", f"the two sides of `??` differ: `{lt}` and `{rt}`",
                               e.span, f"the default must be a value of type `{lt.required()}`")
        return t if rt.optional or rt.kind == "null" else t.required()

    def membership(self, e: ast.Binary, lt: Type, rt: Type) -> Type:
        if rt.kind == "json" or lt.kind == "json":
            return BOOL
        if rt.kind == "list":
            item = rt.arg or ERROR
            if unify(lt, item) is None:
                return self.report("E0311", f"`{lt}` can never be in a `{rt}`", e.span)
        elif rt.kind in ("map", "str"):
            if lt.kind != "str":
                what = "a map key" if rt.kind == "map" else "a substring"
                return self.report("E0311", f"`in` a `{rt}` tests for {what}: expected `str`, "
                                   f"found `{lt}`", e.left.span)
        else:
            return self.report(
                "E0301", f"`in` needs a list, map or string on the right, found `{rt}`",
                e.right.span)
        return BOOL

    def arithmetic(self, e: ast.Binary, lt: Type, rt: Type) -> Type:
        op = e.op
        if lt.is_dynamic or rt.is_dynamic:
            return JSON
        if lt.is_numeric and rt.is_numeric:
            if op == "%":
                if lt.kind == "int" and rt.kind == "int":
                    return INT
            elif op == "/":
                return FLOAT
            else:
                return INT if lt.kind == rt.kind == "int" else FLOAT
        elif (op, lt.kind, rt.kind) in _DURATION_OPS:
            return DURATION
        elif op == "+" and lt.kind == rt.kind == "str":
            return STR
        elif op == "+" and lt.kind == rt.kind == "list":
            joined = unify(lt, rt)
            if joined is not None:
                return joined
            return self.report("E0301", f"cannot join `{lt}` and `{rt}`", e.span)
        hint = "use `str(...)` to turn a value into text" if op == "+" and STR in (lt, rt) \
            else ("`%` is for two ints" if op == "%" else None)
        return self.report("E0301", f"cannot apply `{op}` to `{lt}` and `{rt}`", e.span, hint)

    # ------------------------------------------------------------------ displays

    def list_expr(self, e: ast.ListExpr) -> Type:
        item: Type | None = None
        for x in e.items:
            t = self.type(x)
            if item is None:
                item = t
                continue
            joined = unify(item, t)
            if joined is None:
                self.report("E0301", f"list items must have one type: expected `{item}`, "
                            f"found `{t}`", x.span)
                return list_of(ERROR)
            item = joined
        return list_of(item if item is not None and item.kind != "null" else
                       (JSON if item is None else item.as_optional()))

    def map_expr(self, e: ast.MapExpr) -> Type:
        item: Type | None = None
        for entry in e.entries:
            t = self.type(entry.value)
            if item is None:
                item = t
                continue
            joined = unify(item, t)
            item = JSON if joined is None else joined  # mixed values: a JSON object
        return map_of(item if item is not None and item.kind != "null" else JSON)


_DISPATCH: dict[type, Callable[[_Typer, ast.Expr], Type]] = {
    ast.Literal: _Typer.literal, ast.DurationLit: _Typer.duration,  # type: ignore[dict-item]
    ast.Template: _Typer.template, ast.Name: _Typer.name,  # type: ignore[dict-item]
    ast.Attribute: _Typer.attribute, ast.Index: _Typer.index,  # type: ignore[dict-item]
    ast.Call: _Typer.call, ast.Unary: _Typer.unary,  # type: ignore[dict-item]
    ast.Binary: _Typer.binary, ast.ListExpr: _Typer.list_expr,  # type: ignore[dict-item]
    ast.MapExpr: _Typer.map_expr, ast.Cond: _Typer.cond,  # type: ignore[dict-item]
}

_FIELD_NAMES = frozenset(f for fields in ACTION_FIELDS.values() for f in fields) \
    | frozenset(REPEAT_FIELDS)

_DURATION_OPS = {
    ("+", "duration", "duration"), ("-", "duration", "duration"),
    ("*", "duration", "int"), ("*", "int", "duration"), ("/", "duration", "int"),
}
