"""Lower a checked program into the IR document of docs/ir.md.

The lowering is a pure, linear walk over the checked AST: every name is
resolved once against a per-flow table, every expression becomes a JSON tree,
and the callees of `call` steps are bundled so the IR is self-contained. It
assumes the checker found no errors; an unresolvable construct is a bug and
raises `LoweringError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Protocol

from chatflow.compiler.ir import IR_VERSION, PLUGIN_IR_VERSION
from chatflow.compiler.shell_holes import PlacementError, shell_action
from chatflow.compiler.typecheck import constant_value
from chatflow.dsl import ast
from chatflow.gcpause import no_cyclic_gc
from chatflow.plugins import find_kind

CTX_FIELDS = frozenset({"instance_id", "feature_id", "automation", "attempt", "depth"})
QUOTA_KEYS = {"tokens": "tokens", "steps": "steps", "cpu": "cpu_ms", "wall": "wall_ms"}


class LoweringError(Exception):
    """A construct the checker should have rejected reached the lowering (a bug)."""


# The parts of the checker's contract (docs/internals.md) the lowering reads,
# as protocols: `check.CheckedProgram` satisfies them, and so do test stand-ins.


class _Unit(Protocol):
    @property
    def module(self) -> ast.Module: ...
    @property
    def flow(self) -> ast.Flow: ...
    @property
    def callables(self) -> Mapping[str, str]: ...


class _Program(Protocol):
    @property
    def units(self) -> Mapping[str, _Unit]: ...


class _Symbols(Protocol):
    @property
    def fields(self) -> Mapping[str, Mapping[str, object]]: ...  # node -> field -> Type
    @property
    def optional(self) -> Mapping[str, bool]: ...


class _Graph(Protocol):
    @property
    def order(self) -> list[str]: ...
    @property
    def deps(self) -> Mapping[str, tuple[str, ...]]: ...
    @property
    def parent(self) -> Mapping[str, str | None]: ...
    @property
    def members(self) -> Mapping[str, tuple[str, ...]]: ...


class CheckedProgram(Protocol):
    @property
    def program(self) -> _Program: ...
    @property
    def graphs(self) -> Mapping[str, _Graph]: ...
    @property
    def symbols(self) -> Mapping[str, _Symbols]: ...


def type_str(t: ast.TypeRef) -> str:
    """The normalised spelling of a type: `str`, `list[int]`, `map[json]?`."""
    s = t.name
    if t.args:
        s += "[" + ",".join(type_str(a) for a in t.args) + "]"
    return s + "?" if t.optional else s


def _span(span: Any) -> dict[str, int]:
    return {"line": span.line, "column": span.column,
            "end_line": span.end_line, "end_column": span.end_column}


@dataclass(frozen=True, slots=True)
class _Scope:
    """What bare names and `X.field` mean inside one flow (and, for `out`
    expressions, inside one step)."""

    params: frozenset[str]
    vars: frozenset[str]
    nodes: frozenset[str]
    own_fields: frozenset[str] = frozenset()


class _ExprLowerer:
    """Expression → JSON tree for one flow."""

    def __init__(self, scope: _Scope) -> None:
        self.scope = scope

    def expr(self, e: ast.Expr) -> dict[str, Any]:
        # Dispatch on the exact class (AST classes are never subclassed):
        # cheaper than a chain of isinstance checks on large flows.
        method = _EXPR_METHODS.get(type(e))
        if method is None:
            raise LoweringError(f"cannot lower expression {type(e).__name__}")
        return method(self, e)

    def _literal(self, e: ast.Literal) -> dict[str, Any]:
        return {"lit": e.value}

    def _duration(self, e: ast.DurationLit) -> dict[str, Any]:
        return {"dur": e.millis}

    def _name(self, e: ast.Name) -> dict[str, Any]:
        return self.name(e.name)

    def _attribute(self, e: ast.Attribute) -> dict[str, Any]:
        base = e.value
        if type(base) is ast.Name:
            ref = self.reference(base.name, e.attr)
            if ref is not None:
                return ref
        return {"op": "attr", "args": [self.expr(base)], "name": e.attr}

    def _index(self, e: ast.Index) -> dict[str, Any]:
        return {"op": "index", "args": [self.expr(e.value), self.expr(e.index)]}

    def _call(self, e: ast.Call) -> dict[str, Any]:
        return {"op": "call", "fn": e.func.name, "args": [self.expr(a) for a in e.args]}

    def _unary(self, e: ast.Unary) -> dict[str, Any]:
        operand = self.expr(e.operand)
        if e.op == "not":
            return {"op": "not", "args": [operand]}
        # Fold `-3` into a literal so a `.flow` file and its YAML twin
        # (where `-3` is a plain scalar) give the same IR.
        value = operand.get("lit")
        if len(operand) == 1 and isinstance(value, int | float) and not isinstance(value, bool):
            return {"lit": -value}
        if len(operand) == 1 and "dur" in operand:
            return {"dur": -operand["dur"]}
        return {"op": "neg", "args": [operand]}

    def _binary(self, e: ast.Binary) -> dict[str, Any]:
        # A run of one operator (`a and b and c`, left-nested in the AST)
        # becomes one operation with every operand, folded from the left.
        rights = [e.right]
        first = e.left
        # Comparisons do not chain: `(a == b) == c` stays two operations.
        while type(first) is ast.Binary and first.op == e.op and e.op not in _COMPARISONS:
            rights.append(first.right)
            first = first.left
        rights.reverse()
        return {"op": e.op, "args": [self.expr(first), *map(self.expr, rights)]}

    def _cond(self, e: ast.Cond) -> dict[str, Any]:
        return {"op": "if", "args": [self.expr(e.cond), self.expr(e.then), self.expr(e.orelse)]}

    def _list(self, e: ast.ListExpr) -> dict[str, Any]:
        return {"op": "list", "args": [self.expr(i) for i in e.items]}

    def _map(self, e: ast.MapExpr) -> dict[str, Any]:
        return {"op": "map", "keys": [en.key.name for en in e.entries],
                "args": [self.expr(en.value) for en in e.entries]}

    def template(self, e: ast.Expr) -> dict[str, Any]:
        """A string position that allows interpolation: always a `fmt` node
        (a non-string expression there is one interpolated part)."""
        if isinstance(e, ast.Literal) and isinstance(e.value, str):
            return {"op": "fmt", "args": [{"lit": e.value}] if e.value else []}
        if not isinstance(e, ast.Template):
            return {"op": "fmt", "args": [self.hole(e)]}
        args: list[dict[str, Any]] = []
        for part in e.parts:
            if isinstance(part, str):
                if part:
                    args.append({"lit": part})
            else:
                args.append(self.hole(part))
        return {"op": "fmt", "args": args}

    def hole(self, e: ast.Expr) -> dict[str, Any]:
        """An interpolated value. A `{"lit": "text"}` part of a `fmt` means
        literal template text, so an interpolated string literal (`{"a b"}`)
        is wrapped in `str(...)`: it stays a value (in a shell command, a
        binding the shell expands, never text it parses)."""
        lowered = self.expr(e)
        if isinstance(lowered.get("lit"), str):
            return {"op": "call", "fn": "str", "args": [lowered]}
        return lowered

    def name(self, n: str) -> dict[str, Any]:
        s = self.scope
        # A step's own fields shadow flow names inside its `out` expressions.
        if n in s.own_fields:
            return {"self": n}
        if n in s.params:
            return {"param": n}
        if n in s.vars:
            return {"var": n}
        raise LoweringError(f"unresolved name `{n}`")

    def reference(self, base: str, attr: str) -> dict[str, Any] | None:
        s = self.scope
        if base in s.own_fields or base in s.params or base in s.vars:
            return None  # member access on a value
        if base in s.nodes:
            return {"step": base, "field": attr}
        if base == "ctx" and attr in CTX_FIELDS:
            return {"ctx": attr}
        raise LoweringError(f"unresolved name `{base}`")


_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in"})

_EXPR_METHODS: dict[type, Callable[[_ExprLowerer, Any], dict[str, Any]]] = {
    ast.Literal: _ExprLowerer._literal,
    ast.DurationLit: _ExprLowerer._duration,
    ast.Template: _ExprLowerer.template,
    ast.Name: _ExprLowerer._name,
    ast.Attribute: _ExprLowerer._attribute,
    ast.Index: _ExprLowerer._index,
    ast.Call: _ExprLowerer._call,
    ast.Unary: _ExprLowerer._unary,
    ast.Binary: _ExprLowerer._binary,
    ast.ListExpr: _ExprLowerer._list,
    ast.MapExpr: _ExprLowerer._map,
    ast.Cond: _ExprLowerer._cond,
}


class _FlowLowerer:
    def __init__(self, checked: CheckedProgram, key: str, source_info: bool) -> None:
        self.checked = checked
        self.key = key
        self.unit = checked.program.units[key]
        self.graph: _Graph = checked.graphs[key]
        self.symbols: _Symbols = checked.symbols[key]
        self.source_info = source_info
        self.callees: list[str] = []
        self.plugin_kinds = False  # a plugin kind's action was lowered (IR version 3)
        flow = self.unit.flow
        items = ast.iter_items(flow.items)
        self.nodes: dict[str, ast.Step | ast.Group] = {
            i.name.name: i for i in items if isinstance(i, ast.Step | ast.Group)}
        self.scope = _Scope(
            params=frozenset(p.name.name for p in flow.params),
            vars=frozenset(i.name.name for i in items if isinstance(i, ast.Var)),
            nodes=frozenset(self.nodes),
        )
        self.ex = _ExprLowerer(self.scope)
        self.items = items

    # ------------------------------------------------------------------ flow

    def lower(self) -> dict[str, Any]:
        flow = self.unit.flow
        ex = self.ex
        bound = {i.name.name: i for i in self.items if isinstance(i, ast.OutputItem)}
        outputs = []
        for o in flow.outputs:
            item = bound.get(o.name.name)
            if item is None:
                raise LoweringError(f"output `{o.name.name}` is not bound")
            outputs.append({"name": o.name.name, "type": type_str(o.type),
                            "value": ex.expr(item.value)})
        params: list[dict[str, Any]] = []
        for p in flow.params:
            param: dict[str, Any] = {"name": p.name.name, "type": type_str(p.type)}
            if p.default is not None:
                param["default"] = ex.expr(p.default)
            params.append(param)
        doc: dict[str, Any] = {
            "name": flow.name.name,
            "params": params,
            "outputs": outputs,
            "settings": self.settings(),
            "vars": [{"name": v.name.name, "type": type_str(v.type), "value": ex.expr(v.value)}
                     for v in self.items if isinstance(v, ast.Var)],
            "nodes": [self.node(n) for n in self.graph.order],
        }
        if self.source_info:
            doc["source"] = source_of(self.checked, self.key, self.unit.module)
        return doc

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for item in self.items:
            if isinstance(item, ast.Setting):
                out[item.name.name] = _const(item.value)
            elif isinstance(item, ast.Quota):
                quota = out.setdefault("quota", {})
                for entry in item.entries:
                    key = QUOTA_KEYS.get(entry.key.name)
                    if key is None:
                        raise LoweringError(f"unknown quota key `{entry.key.name}`")
                    quota[key] = _const(entry.value)
        return out

    # ------------------------------------------------------------------ nodes

    def node(self, name: str) -> dict[str, Any]:
        item = self.nodes.get(name)
        if item is None:
            raise LoweringError(f"graph node `{name}` has no item")
        g = self.graph
        out: dict[str, Any] = {
            "id": name,
            "parent": g.parent.get(name),
            "deps": list(g.deps.get(name, ())),
            "when": None if item.when is None else self.ex.expr(item.when),
            "optional": bool(self.symbols.optional.get(name, False)),
            "fields": self.fields(name),
        }
        if isinstance(item, ast.Step):
            out["kind"] = "step"
            out["action"] = self.action(item.action)
            out["options"] = self.options(item)
            if isinstance(item.action, ast.UnknownAction):
                out["action"]["options"] = self.plugin_options(item)
        else:
            out["kind"] = item.kind
            out["members"] = list(g.members.get(name, ()))
            if item.kind in ("parallel", "repeat"):
                out["max"] = None if item.max is None else _const(item.max)
            if item.kind == "repeat":
                if item.until is None:
                    raise LoweringError(f"repeat `{name}` has no `until`")
                out["until"] = self.ex.expr(item.until)
        if self.source_info:
            out["span"] = _span(item.span)
        return out

    def fields(self, name: str) -> dict[str, str]:
        """Declared field types (without the `?` an optional node adds), from
        the checker's symbol table."""
        fields = self.symbols.fields.get(name)
        if fields is None:
            raise LoweringError(f"no fields for `{name}`")
        return {k: str(t) for k, t in fields.items()}

    def callee_key(self, action: ast.CallAction) -> str:
        key = self.unit.callables.get(action.flow.name)
        if key is None:
            raise LoweringError(f"unresolved flow `{action.flow.name}`")
        return key

    def action(self, a: ast.Action) -> dict[str, Any]:
        ex = self.ex
        if isinstance(a, ast.ShellAction):
            try:
                return shell_action(ex.template(a.command))
            except PlacementError as exc:
                raise LoweringError(f"shell command: {exc}") from None
        if isinstance(a, ast.PythonAction):
            return {"type": "python", "target": a.target.value}
        if isinstance(a, ast.AgentAction):
            return {"type": "agent", "agent": a.agent.value}
        if isinstance(a, ast.ApproveAction):
            return {"type": "approve", "message": ex.template(a.message)}
        if isinstance(a, ast.CallAction):
            key = self.callee_key(a)
            self.callees.append(key)
            return {"type": "call", "flow": key,
                    "args": {arg.name.name: ex.expr(arg.value) for arg in a.args}}
        if isinstance(a, ast.SetAction):
            return {"type": "set", "var": a.target.name, "value": ex.expr(a.value)}
        if isinstance(a, ast.FailAction):
            return {"type": "fail", "message": ex.template(a.message)}
        if isinstance(a, ast.UnknownAction):
            return self.plugin_action(a)
        raise LoweringError(f"cannot lower action {type(a).__name__}")

    def plugin_action(self, a: ast.UnknownAction) -> dict[str, Any]:
        """A plugin kind's action: its kind, the distribution that provides
        it (the runtime checks it is still there, same major version), its
        target as a TEMPLATE; its options are added by `plugin_options`."""
        spec = find_kind(a.name.name)
        if spec is None or spec.plugin is None:
            raise LoweringError(f"unknown action kind `{a.name.name}`")
        self.plugin_kinds = True
        out: dict[str, Any] = {"type": spec.name, "plugin": spec.plugin}
        if a.arg is not None:
            out["target"] = self.ex.template(a.arg)
        return out

    def plugin_options(self, step: ast.Step) -> dict[str, Any]:
        """A plugin kind's own options (`method`, `body` ...) as EXPRs."""
        spec = find_kind(step.action.name.name) if isinstance(step.action, ast.UnknownAction) \
            else None
        own = spec.options if spec is not None else {}
        return {o.name.name: self.ex.expr(o.value) for o in step.options
                if isinstance(o, ast.Option) and o.name.name in own and o.value is not None}

    def options(self, step: ast.Step) -> dict[str, Any]:
        ex = self.ex
        out: dict[str, Any] = {}
        outs: list[dict[str, Any]] = []
        own = frozenset(self.symbols.fields.get(step.name.name, ()))
        out_ex = _ExprLowerer(_Scope(self.scope.params, self.scope.vars, self.scope.nodes, own))
        spec = find_kind(step.action.name.name) if isinstance(step.action, ast.UnknownAction) \
            else None
        plugin_own = frozenset(spec.options) if spec is not None else frozenset()
        for opt in step.options:
            if isinstance(opt, ast.OutField):
                outs.append({"name": opt.name.name, "type": type_str(opt.type),
                             "value": out_ex.expr(opt.value)})
            elif isinstance(opt, ast.RetryOption):
                out["retry"] = {
                    "times": _const(opt.times),
                    "backoff_ms": 0 if opt.backoff is None else _const(opt.backoff),
                }
            elif opt.name.name not in plugin_own:
                name, value = opt.name.name, opt.value
                if name == "continue_on_error":
                    out[name] = True
                elif value is None:
                    raise LoweringError(f"option `{name}` has no value")
                elif name == "timeout":
                    out["timeout_ms"] = _const(value)
                elif name == "risk":
                    out["risk"] = _const(value)
                elif name in ("prompt", "cwd"):
                    out[name] = ex.template(value)
                elif name in ("with", "env"):
                    if not isinstance(value, ast.MapExpr):
                        raise LoweringError(f"option `{name}` is not a map")
                    out[name] = {en.key.name: ex.expr(en.value) for en in value.entries}
                else:
                    raise LoweringError(f"unknown option `{name}`")
        if outs:
            out["out"] = outs
        return out


def _const(e: ast.Expr) -> Any:
    """The value of a constant setting/option operand (durations in ms)."""
    v = constant_value(e)
    if v is None and not isinstance(e, ast.Literal):  # a `null` literal is a constant
        raise LoweringError(f"expected a constant, got {type(e).__name__}")
    return v


def source_of(checked: CheckedProgram, key: str, module: ast.Module) -> dict[str, str]:
    """`{file, sha256}` of a unit's source. `file` is the path as given
    (posix); a standard-library file is `<std>/NAME.flow`, so the IR does not
    depend on where chatflow is installed. The hash is of the text the loader
    read (UTF-8), or of the file's bytes when the loader kept no text."""
    texts = getattr(checked.program, "sources", None)
    if isinstance(texts, Mapping) and isinstance(texts.get(module.path), str):
        data = texts[module.path].encode("utf-8")
    else:
        try:
            data = Path(module.path).read_bytes()
        except OSError:
            data = b""
    path = PurePath(module.path)
    file = f"<std>/{path.name}" if key.startswith("std:") else path.as_posix()
    return {"file": file, "sha256": hashlib.sha256(data).hexdigest()}


def lower(checked: CheckedProgram, entry: str, source_info: bool = True) -> dict[str, Any]:
    """The IR document for `entry` (a unit key) and every flow it calls."""
    with no_cyclic_gc():
        return _lower(checked, entry, source_info)


def _lower(checked: CheckedProgram, entry: str, source_info: bool) -> dict[str, Any]:
    flows: dict[str, Any] = {}
    pending = [entry]
    plugins = False
    while pending:
        key = pending.pop()
        if key in flows:
            continue
        fl = _FlowLowerer(checked, key, source_info)
        flows[key] = fl.lower()
        plugins = plugins or fl.plugin_kinds
        pending.extend(k for k in fl.callees if k not in flows)
    # the lowest version that holds the document (docs/ir.md, "Versions")
    return {"ir_version": PLUGIN_IR_VERSION if plugins else IR_VERSION, "entry": entry,
            "flows": flows}
