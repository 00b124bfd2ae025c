"""The per-flow symbol table: params, vars, steps and groups (one namespace),
the fields each step and group yields (docs/language.md §5; an action kind's
fields and their types come from the action registry, `chatflow.plugins`) and
which of them are optional because the node may not run. Also each flow's
call signature."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from chatflow.compiler.types import (
    BOOL,
    DURATION,
    ERROR,
    FLOAT,
    INT,
    JSON,
    STR,
    Type,
    from_ref,
    list_of,
    map_of,
)
from chatflow.diagnostics import Diagnostic, Related, Span, error
from chatflow.dsl import ast
from chatflow.plugins import ActionKind, find_kind
from chatflow.plugins.builtin import BUILTIN


def spec_type(text: str) -> Type:
    """A type as an action kind's spec writes it (`int`, `map[str]`, `json?`);
    the registry has checked it (`plugins.valid_type`)."""
    t = text.strip()
    if t.endswith("?"):
        return spec_type(t[:-1]).as_optional()
    for head, make in (("list[", list_of), ("map[", map_of)):
        if t.startswith(head) and t.endswith("]"):
            return make(spec_type(t[len(head):-1]))
    return _SCALAR_TYPES.get(t, ERROR)


_SCALAR_TYPES = {"str": STR, "int": INT, "float": FLOAT, "bool": BOOL, "duration": DURATION,
                 "json": JSON}

# the fields each built-in action yields (`call` adds the callee's outputs to `ok`)
ACTION_FIELDS: dict[str, dict[str, Type]] = {
    name: {f: spec_type(t) for f, t in kind.fields.items()} for name, kind in BUILTIN.items()}
CALL_STEP_FIELDS: dict[str, str] = {
    "ok": "whether the call succeeded",
    "instance_id": "the id of the child instance",
}
"""What a `call` step records besides the callee's outputs, and what it
means: a callee output with one of these names could never be read
(E0315 / W0110)."""
GROUP_FIELDS: dict[str, Type] = {"ok": BOOL}
REPEAT_FIELDS: dict[str, Type] = {"ok": BOOL, "iterations": INT}
CTX_FIELDS: dict[str, Type] = {
    "instance_id": STR, "feature_id": STR, "automation": INT, "attempt": INT, "depth": INT,
}

_ACTION_KIND: dict[type, str] = {
    ast.ShellAction: "shell", ast.PythonAction: "python", ast.AgentAction: "agent",
    ast.ApproveAction: "approve", ast.CallAction: "call", ast.SetAction: "set",
    ast.FailAction: "fail",
}


def action_spec(action: ast.Action) -> ActionKind | None:
    """The registry's entry for a step's action; None for an unknown kind."""
    kind = _ACTION_KIND.get(type(action))
    if kind is not None:
        return BUILTIN[kind]
    assert isinstance(action, ast.UnknownAction)
    return find_kind(action.name.name)


def action_kind(action: ast.Action) -> str:
    """`shell`, `python`, ..., an installed plugin's kind, or `unknown`."""
    kind = _ACTION_KIND.get(type(action))
    if kind is not None:
        return kind
    spec = action_spec(action)
    return spec.name if spec is not None else "unknown"


def action_fields(action: ast.Action, callee: Signature | None) -> dict[str, Type]:
    """The fields a step's action yields (a call's include the callee's
    outputs; an unknown action or unknown callee yields only what is known)."""
    kind = _ACTION_KIND.get(type(action))
    if kind is not None:
        fields = dict(ACTION_FIELDS[kind])
    else:
        spec = action_spec(action)
        fields = {} if spec is None else {f: spec_type(t) for f, t in spec.fields.items()}
    if callee is not None:
        for k, t in callee.outputs.items():
            fields.setdefault(k, t)
    return fields


@dataclass
class Signature:
    """What a caller sees of a flow: its params (type, has a default) and outputs."""

    key: str
    name: str
    params: dict[str, tuple[Type, bool]]
    outputs: dict[str, Type]


def signature_of(key: str, flow: ast.Flow) -> tuple[Signature, list[Diagnostic]]:
    """The flow's signature; unknown type names give E0212 (typed `error`)."""
    diags: list[Diagnostic] = []
    params: dict[str, tuple[Type, bool]] = {}
    for p in flow.params:
        t, d = from_ref(p.type)
        diags += d
        params.setdefault(p.name.name, (t, p.default is not None))
    outputs: dict[str, Type] = {}
    for o in flow.outputs:
        t, d = from_ref(o.type)
        diags += d
        outputs.setdefault(o.name.name, t)
    return Signature(key, flow.name.name, params, outputs), diags


@dataclass
class Symbol:
    name: str
    kind: str                    # "param" | "var" | "step" | "group"
    span: Span                   # the name as written
    node: ast.Param | ast.Var | ast.Step | ast.Group
    type: Type | None = None     # params and vars


@dataclass
class FlowSymbols:
    names: dict[str, Symbol]
    params: dict[str, Type]
    vars: dict[str, Type]
    outputs: dict[str, Type]
    fields: dict[str, dict[str, Type]]      # step/group -> field -> declared type
    optional: dict[str, bool]               # step/group -> may not run
    out_fields: dict[str, dict[str, ast.OutField]] = field(default_factory=dict)
    open_fields: set[str] = field(default_factory=set)  # call of an unknown flow
    callees: dict[str, Signature] = field(default_factory=dict)  # call step -> callee
    # fields that may be null even when the node ran: a `continue_on_error`
    # call's callee outputs (a failed sub-flow binds only well-typed outputs)
    partial: dict[str, frozenset[str]] = field(default_factory=dict)
    # field types as other items read them (`T?` for optional nodes), built lazily
    _read: dict[str, dict[str, Type]] = field(default_factory=dict, repr=False)

    def lookup(self, name: str) -> Symbol | None:
        return self.names.get(name)

    def field_type(self, node: str, name: str) -> Type | None:
        """The type of `node.name` as read by another item (`T?` when the
        node may not run); `error` for calls of unknown flows; None if unknown."""
        read = self._read.get(node)
        if read is None:
            fields = self.fields.get(node)
            if fields is None:
                return None
            opt = self.optional.get(node, False)
            partial = self.partial.get(node, frozenset())
            read = self._read[node] = {
                k: t.as_optional() if opt or k in partial else t for k, t in fields.items()}
        t = read.get(name)
        if t is None:
            return ERROR if node in self.open_fields else None
        return t

    def field_names(self, node: str) -> list[str]:
        return list(self.fields.get(node, {}))


def build_symbols(
    flow: ast.Flow, callee: Callable[[str], Signature | None],
) -> tuple[FlowSymbols, list[Diagnostic]]:
    """The flow's symbols. `callee(name)` gives the signature of a flow this
    flow may call, or None. Reports E0202 (duplicate name) and E0212."""
    diags: list[Diagnostic] = []
    syms = FlowSymbols({}, {}, {}, {}, {}, {})

    def declare(sym: Symbol) -> bool:
        first = syms.names.get(sym.name)
        if first is not None:
            diags.append(error(
                "E0202", f"`{sym.name}` is defined more than once", sym.span,
                "steps, groups, vars and params share one namespace per flow",
                (Related(first.span, "first defined here"),)))
            return False
        syms.names[sym.name] = sym
        return True

    for p in flow.params:
        t, d = from_ref(p.type)
        diags += d
        if declare(Symbol(p.name.name, "param", p.name.span, p, t)):
            syms.params[p.name.name] = t
    seen_out: dict[str, Span] = {}
    for o in flow.outputs:
        t, d = from_ref(o.type)
        diags += d
        if o.name.name in seen_out:
            diags.append(error(
                "E0202", f"output `{o.name.name}` is declared more than once", o.name.span,
                None, (Related(seen_out[o.name.name], "first declared here"),)))
            continue
        seen_out[o.name.name] = o.name.span
        syms.outputs[o.name.name] = t

    def walk(items: tuple[ast.Item, ...], guarded: bool) -> None:
        for item in items:
            if isinstance(item, ast.Var):
                t, d = from_ref(item.type)
                diags.extend(d)
                if declare(Symbol(item.name.name, "var", item.name.span, item, t)):
                    syms.vars[item.name.name] = t
            elif isinstance(item, ast.Step):
                if declare(Symbol(item.name.name, "step", item.name.span, item)):
                    _step_fields(item, guarded or item.when is not None)
            elif isinstance(item, ast.Group):
                opt = guarded or item.when is not None
                if declare(Symbol(item.name.name, "group", item.name.span, item)):
                    name = item.name.name
                    syms.fields[name] = dict(
                        REPEAT_FIELDS if item.kind == "repeat" else GROUP_FIELDS)
                    syms.optional[name] = opt
                walk(item.items, opt)

    def _step_fields(step: ast.Step, opt: bool) -> None:
        name = step.name.name
        kind = action_kind(step.action)
        sig: Signature | None = None
        if isinstance(step.action, ast.CallAction):
            sig = callee(step.action.flow.name)
            if sig is None:
                syms.open_fields.add(name)
            else:
                syms.callees[name] = sig
        fields = action_fields(step.action, sig)
        if kind == "unknown":
            syms.open_fields.add(name)
        outs: dict[str, ast.OutField] = {}
        for opt_item in step.options:
            if isinstance(opt_item, ast.OutField) and opt_item.name.name not in outs:
                t, d = from_ref(opt_item.type)
                diags.extend(d)
                outs[opt_item.name.name] = opt_item
                fields[opt_item.name.name] = t
        syms.fields[name] = fields
        syms.optional[name] = opt
        syms.out_fields[name] = outs
        if sig is not None and any(isinstance(o, ast.Option)
                                   and o.name.name == "continue_on_error"
                                   for o in step.options):
            syms.partial[name] = frozenset(k for k in sig.outputs if k not in ACTION_FIELDS["call"])

    walk(flow.items, False)
    return syms, diags
