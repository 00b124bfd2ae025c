"""Where expressions stand in a flow and what each place expects: every root
expression of a flow as a `Site` (a `when`, an option, an argument ...) with
its expected type, which values must be constants, and whether a type fits
its place (`mismatch`). The expression typer
(`typecheck`) types the sites; the rules read them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from chatflow.compiler.symbols import FlowSymbols, action_spec, spec_type
from chatflow.compiler.types import (
    BOOL,
    DURATION,
    INT,
    STR,
    Type,
    assignable,
    optional_only_mismatch,
)
from chatflow.dsl import ast
from chatflow.plugins.builtin import BUILTIN

# settings and option values: the expected type (all must be constants)
SETTING_TYPES: dict[str, Type] = {
    "version": STR, "description": STR, "automation": INT, "max_depth": INT,
    "parallelism": STR,
}
QUOTA_TYPES: dict[str, Type] = {"tokens": INT, "cpu": DURATION, "wall": DURATION, "steps": INT}
MAP_OPTIONS = ("with", "env")
"""Options whose map entries are typed one by one (`with` values are any
value, `env` values one scalar each, docs/language.md §5)."""
GENERIC_OPTION_TYPES: dict[str, Type | None] = {
    "timeout": DURATION, "risk": INT, "continue_on_error": None, "cwd": STR, "env": None}
"""The options of every step, whatever its kind (`plugins.GENERIC_OPTIONS`)."""
OPTION_TYPES: dict[str, Type | None] = {
    **GENERIC_OPTION_TYPES,
    **{name: None if name in MAP_OPTIONS else spec_type(opt.type)
       for kind in BUILTIN.values() for name, opt in kind.options.items()},
}
"""The options of every step (`GENERIC_OPTION_TYPES`) and of the built-in
kinds (from the registry); a plugin kind's own come from its spec."""
CONSTANT_OPTIONS = ("timeout", "risk")
OPTION_WORDS = frozenset((*OPTION_TYPES, "retry", "out", "backoff"))


def swallowed_value(opt: ast.Option, syms: FlowSymbols) -> bool:
    """True when an option was written without its value and the parser took
    what follows for it: `prompt` then `nope` on the next line reads as
    `prompt nope`. That is a bare name that is not a value of the flow and is
    an option word or starts a later line."""
    v = opt.value
    if not isinstance(v, ast.Name) or v.name in syms.names or v.name == "ctx":
        return False
    return v.name in OPTION_WORDS or v.span.line > opt.name.span.line


@dataclass(slots=True)
class Site:
    """A root expression and what its context expects of it.

    `place` says where it is (`when`, `until`, `max`, `out`, `arg`, `set`,
    `option`, `setting`, `quota`, `var`, `output`, `default`, `template`,
    `with`, `env`); `expected` is None when any type goes; `what` names the
    slot in messages ("option `timeout`"); `constant` is True where only a
    constant is allowed."""

    expr: ast.Expr
    owner: str | None
    place: str
    expected: Type | None
    what: str
    constant: bool = False


# --------------------------------------------------------------------------- constants


def is_constant(e: ast.Expr) -> bool:
    """Literals, durations, negated numbers, lists and maps of constants."""
    if isinstance(e, ast.Literal | ast.DurationLit):
        return True
    if isinstance(e, ast.Unary) and e.op == "-":
        return isinstance(e.operand, ast.Literal | ast.DurationLit)
    if isinstance(e, ast.ListExpr):
        return all(is_constant(i) for i in e.items)
    if isinstance(e, ast.MapExpr):
        return all(is_constant(x.value) for x in e.entries)
    return False


def constant_value(e: ast.Expr) -> object:
    """The Python value of a constant number, string, bool or duration
    (milliseconds); None when not a simple constant."""
    if isinstance(e, ast.Literal):
        return e.value
    if isinstance(e, ast.DurationLit):
        return e.millis
    if isinstance(e, ast.Unary) and e.op == "-":
        v = constant_value(e.operand)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return -v
    return None


# --------------------------------------------------------------------------- sites


def iter_sites(flow: ast.Flow, syms: FlowSymbols) -> Iterator[Site]:
    """Every root expression of the flow, with what its place expects."""
    for p in flow.params:
        if p.default is not None:
            yield Site(p.default, None, "default", syms.params.get(p.name.name),
                       f"the default of `{p.name.name}`", True)
    yield from _item_sites(flow.items, syms, None)


def _item_sites(items: tuple[ast.Item, ...], syms: FlowSymbols,
                group: str | None) -> Iterator[Site]:
    for item in items:
        if isinstance(item, ast.Setting):
            t = SETTING_TYPES.get(item.name.name)
            if t is not None:
                yield Site(item.value, None, "setting", t, f"setting `{item.name.name}`", True)
        elif isinstance(item, ast.Quota):
            for entry in item.entries:
                t = QUOTA_TYPES.get(entry.key.name)
                if t is not None:
                    yield Site(entry.value, None, "quota", t, f"quota `{entry.key.name}`", True)
        elif isinstance(item, ast.Var):
            yield Site(item.value, None, "var", syms.vars.get(item.name.name),
                       f"var `{item.name.name}`")
        elif isinstance(item, ast.OutputItem):
            yield Site(item.value, None, "output", syms.outputs.get(item.name.name),
                       f"output `{item.name.name}`")
        elif isinstance(item, ast.Step):
            yield from _step_sites(item, syms)
        elif isinstance(item, ast.Group):
            name = item.name.name
            if item.when is not None:
                yield Site(item.when, name, "when", BOOL, "`when`")
            if item.max is not None:
                yield Site(item.max, name, "max", INT, f"`max` of {item.kind} `{name}`", True)
            if item.until is not None:
                yield Site(item.until, name, "until", BOOL, "`until`")
            yield from _item_sites(item.items, syms, name)


def _step_sites(step: ast.Step, syms: FlowSymbols) -> Iterator[Site]:
    name = step.name.name
    if step.when is not None:
        yield Site(step.when, name, "when", BOOL, "`when`")
    a = step.action
    if isinstance(a, ast.ShellAction):
        yield Site(a.command, name, "template", STR, "the command")
    elif isinstance(a, ast.ApproveAction | ast.FailAction):
        yield Site(a.message, name, "template", STR, "the message")
    elif isinstance(a, ast.PythonAction):
        yield Site(a.target, name, "template", STR, "the python target", True)
    elif isinstance(a, ast.AgentAction):
        yield Site(a.agent, name, "template", STR, "the agent name", True)
    elif isinstance(a, ast.CallAction):
        sig = syms.callees.get(name)
        for arg in a.args:
            expected: Type | None = None
            if sig is not None and arg.name.name in sig.params:
                expected = sig.params[arg.name.name][0]
            yield Site(arg.value, name, "arg", expected,
                       f"argument `{arg.name.name}` of `{a.flow.name}`")
    elif isinstance(a, ast.SetAction):
        yield Site(a.value, name, "set", syms.vars.get(a.target.name),
                   f"var `{a.target.name}`")
    elif isinstance(a, ast.UnknownAction) and a.arg is not None:
        yield Site(a.arg, name, "template", None, "the action")
    kind = action_spec(a) if isinstance(a, ast.UnknownAction) else None
    unknown_kind = isinstance(a, ast.UnknownAction) and kind is None
    for opt in step.options:
        if isinstance(opt, ast.OutField):
            yield Site(opt.value, name, "out", syms.fields.get(name, {}).get(opt.name.name),
                       f"`out {opt.name.name}`")
        elif isinstance(opt, ast.RetryOption):
            yield Site(opt.times, name, "option", INT, "`retry`", True)
            if opt.backoff is not None:
                yield Site(opt.backoff, name, "option", DURATION, "`backoff`", True)
        elif opt.value is not None and not swallowed_value(opt, syms):
            oname = opt.name.name
            if oname in ("with", "env") and isinstance(opt.value, ast.MapExpr):
                for entry in opt.value.entries:
                    yield Site(entry.value, name, oname, None,
                               f"`{oname}` entry `{entry.key.name}`")
            elif oname in GENERIC_OPTION_TYPES or (kind is None and oname in OPTION_TYPES):
                yield Site(opt.value, name, "option", OPTION_TYPES[oname], f"option `{oname}`",
                           oname in CONSTANT_OPTIONS)
            elif kind is not None and oname in kind.options:
                yield Site(opt.value, name, "option", spec_type(kind.options[oname].type),
                           f"option `{oname}`")
            elif unknown_kind:  # an option of a kind that is not installed: typed
                yield Site(opt.value, name, "option", None, f"option `{oname}`")


# --------------------------------------------------------------------------- fit

OPTIONAL_HINT = "use `?? default` to give a value for when it is null"


def mismatch(site: Site, t: Type, reads_skippable: bool = True,
             ) -> tuple[str, str, str | None] | None:
    """(kind, message, hint) when a root expression's type does not fit its
    place: kind "optional" (fits once unwrapped) or "type"; None if it fits.
    `reads_skippable`: the expression reads a field of a step that may not
    run (the usual reason a value may be null; said in the message)."""
    if site.place == "env":
        return _env_mismatch(site, t, reads_skippable)
    if site.expected is None or assignable(t, site.expected):
        return None
    if optional_only_mismatch(t, site.expected):
        why = "null when a step it reads did not run" if reads_skippable else "it may be null"
        return ("optional", f"{site.what} expects `{site.expected}`, found `{t}` ({why})",
                OPTIONAL_HINT)
    hint = None
    if site.expected.kind == "duration" and t.kind in ("int", "float"):
        hint = f"{site.what} is a duration: write a unit, like `30s`, `10m` or `2h`"
    return ("type", f"expected `{site.expected}`, found `{t}`", hint)


ENV_KINDS = ("str", "int", "float", "bool", "duration")


def _env_mismatch(site: Site, t: Type, reads_skippable: bool,
                  ) -> tuple[str, str, str | None] | None:
    """An `env` value becomes the text of one environment variable, so it must
    be one scalar (`str` as is, others as their interpolation text) or `json`
    (checked when the step runs); never a list, a map or null."""
    if t.is_dynamic or (t.kind in ENV_KINDS and not t.optional):
        return None
    if t.optional and t.kind in ENV_KINDS:
        why = "null when a step it reads did not run" if reads_skippable else "it may be null"
        return ("optional", f"{site.what} expects `{t.required()}`, found `{t}` ({why})",
                OPTIONAL_HINT)
    kinds = ", ".join(f"`{k}`" for k in ENV_KINDS)
    if t.kind in ("list", "map"):
        hint = ("an environment variable holds one string; write its JSON text with "
                "`str(...)` if that is what the program expects")
    else:
        hint = "an environment variable cannot be null; leave the entry out instead"
    return ("type", f"{site.what} must be one of {kinds}, found `{t}`", hint)
