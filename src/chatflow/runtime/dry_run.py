"""Dry runs: the plan of what would run next, computed without writing.

Walks the same ready-set (`Schedule`) the engine uses, over a copy of the
state (or a fresh one for a flow that has not started): for each node in
order it says whether it would be cancelled, skipped by its `when` (the
expression in source syntax and the current value of everything it
reads), pause for approval, or run — with its command text and the value of
each of its bindings.
Steps that have not run yet are assumed to succeed with unknown fields; a
`when` that reads such a field is reported as "decided at run time", and a
binding, message or prompt that reads one (an `if` whose condition is
unknown) as known at run time. `set` steps are evaluated, so later
interpolations see their values.

Nothing here touches a state store's write methods.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chatflow.runtime.evaluator import EvalError, evaluate, render, text_of
from chatflow.runtime.records import (
    FAILED,
    PENDING,
    READY,
    RUNNING,
    STEP_FINISHED,
    SUCCEEDED,
    WAITING_APPROVAL,
    WorkflowInstanceState,
)
from chatflow.runtime.scheduler import FlowGraph, Schedule
from chatflow.runtime.shell_bindings import check_action, check_binding

if TYPE_CHECKING:
    from chatflow.runtime.engine import Engine


class _PlanScope:
    def __init__(self, inputs: Mapping[str, Any], variables: dict[str, Any],
                 fields: Mapping[str, Mapping[str, Any]], unknown: set[str],
                 ctx: Mapping[str, Any]) -> None:
        self.inputs = inputs
        self.variables = variables
        self.fields = fields
        self.unknown = unknown
        self.context = ctx
        self.read_unknown: list[str] = []

    def param(self, name: str) -> Any:
        if name not in self.inputs:
            raise EvalError(f"unknown parameter `{name}`")
        return self.inputs[name]

    def var(self, name: str) -> Any:
        if name not in self.variables:
            raise EvalError(f"unknown variable `{name}`")
        return self.variables[name]

    def ctx(self, name: str) -> Any:
        if name not in self.context:
            raise EvalError(f"unknown context value `ctx.{name}`")
        return self.context[name]

    def step_field(self, step: str, field: str) -> Any:
        if step in self.unknown:
            self.read_unknown.append(f"{step}.{field}")
        return (self.fields.get(step) or {}).get(field)

    def self_field(self, name: str) -> Any:
        return None


def simulate(flow: Mapping[str, Any], graph: FlowGraph, *, statuses: Mapping[str, str],
             inputs: Mapping[str, Any], variables: Mapping[str, Any],
             fields: Mapping[str, Mapping[str, Any]], ctx: Mapping[str, Any],
             approved: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The plan from the given state, in the order the engine would go."""
    status = {n: (PENDING if s in (RUNNING, READY) else s) for n, s in statuses.items()}
    sched = Schedule(graph, status)
    variables = dict(variables)
    fields_now = {k: dict(v) for k, v in fields.items()}
    unknown: set[str] = set()
    level = int(ctx.get("automation", 100))
    plan: list[dict[str, Any]] = [
        {"step": n, "decision": "waiting", "reason": "waits for approval now"}
        for n in graph.order if statuses.get(n) == WAITING_APPROVAL]
    guard = 0
    while guard < 100_000:
        guard += 1
        grp = sched.pop_group_done()
        if grp is not None:
            sched.finish(grp, SUCCEEDED)
            continue
        nxt = sched.next_eligible()
        if nxt is None:
            break
        nid = nxt
        node = graph.nodes[nid]
        entry: dict[str, Any] = {"step": nid, "kind": node.get("kind", "step")}
        blocker = sched.blocking_dep(nid)
        if blocker is not None:
            entry.update(decision="cancelled", reason=f"`{blocker}` did not succeed")
            plan.append(entry)
            sched.finish(nid, "cancelled")
            continue
        scope = _PlanScope(inputs, variables, fields_now, unknown, {**ctx, "attempt": 1})
        if node.get("when") is not None:
            try:
                ok = evaluate(node["when"], scope)
            except EvalError as exc:
                ok = None
                if not scope.read_unknown:
                    entry.update(decision="fails", reason=f"`when`: {exc}")
                    plan.append(entry)
                    sched.finish(nid, FAILED)
                    continue
            if scope.read_unknown:
                entry["when"] = "decided at run time (reads " + \
                    ", ".join(dict.fromkeys(scope.read_unknown)) + ")"
            elif ok is not True:
                text, values = _when_values(node["when"], scope)
                shown = ", ".join(f"{k} = {_show(v)}" for k, v in values.items())
                entry.update(decision="skipped", when=text, values=values,
                             reason=f"when {text}: {_show(ok)}" + (f" ({shown})" if shown
                                                                   else ""))
                plan.append(entry)
                sched.finish(nid, "skipped")
                continue
        if graph.is_group(nid):
            entry["decision"] = "group"
            if node.get("kind") == "repeat":
                entry["reason"] = f"repeats up to {node.get('max')} times (one round shown)"
            plan.append(entry)
            sched.start_group(nid)
            continue
        _describe_step(node, entry, scope, level, nid in approved)
        plan.append(entry)
        action = node["action"]
        if action["type"] == "set" and "error" not in entry:
            with contextlib.suppress(EvalError):
                variables[action["var"]] = evaluate(action["value"], scope)
        unknown.add(nid)
        sched.finish(nid, FAILED if action["type"] == "fail" else SUCCEEDED)
        if action["type"] == "fail":
            break
    return plan


def _when_values(expr: Mapping[str, Any], scope: _PlanScope) -> tuple[str, dict[str, Any]]:
    """A `when` in source syntax and the current value of each param, var,
    `ctx` value and step field it reads (in the order it reads them)."""
    from chatflow.compiler.ir import expr_text

    values: dict[str, Any] = {}
    todo: list[Any] = [expr]
    while todo:
        e = todo.pop(0)
        if not isinstance(e, Mapping):
            continue
        name: str | None = None
        try:
            if "param" in e:
                name, value = str(e["param"]), scope.param(str(e["param"]))
            elif "var" in e:
                name, value = str(e["var"]), scope.var(str(e["var"]))
            elif "ctx" in e:
                name, value = f"ctx.{e['ctx']}", scope.ctx(str(e["ctx"]))
            elif "step" in e:
                name = f"{e['step']}.{e['field']}"
                value = scope.step_field(str(e["step"]), str(e["field"]))
        except EvalError:
            continue
        if name is not None:
            values.setdefault(name, value)
            continue
        todo.extend(e.get("args") or [])
    return expr_text(dict(expr)), values


def _show(value: Any) -> str:
    """A value as the language writes it (`false`, `null`, `"text"`)."""
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def _describe_step(node: Mapping[str, Any], entry: dict[str, Any], scope: _PlanScope,
                   level: int, approved: bool) -> None:
    action = node["action"]
    options = node.get("options") or {}
    atype = action["type"]
    entry["action"] = atype
    try:
        if atype == "shell":
            entry["command"] = str(action["command"])
            entry["bindings"] = _bindings(action, scope)
        elif atype in ("approve", "fail"):
            entry["message"] = _render_or_later(action["message"], scope)
        elif atype == "python":
            entry["target"] = action["target"]
        elif atype == "agent":
            entry["agent"] = action["agent"]
        elif atype == "call":
            entry["flow"] = action["flow"]
        elif atype == "set":
            entry["var"] = action["var"]
        elif "plugin" in action:
            _describe_plugin(action, entry, scope)
        if "prompt" in options:
            entry["prompt"] = _render_or_later(options["prompt"], scope)
    except EvalError as exc:
        entry["error"] = str(exc)
    risk = int(options.get("risk", 0))
    if approved or level == 100:
        entry["decision"] = "run"
    elif atype == "approve":
        entry.update(decision="pause", reason="approve step (automation below 100)")
    elif risk >= level:
        entry.update(decision="pause", reason=f"risk {risk} >= automation {level}")
    else:
        entry["decision"] = "run"


def _describe_plugin(action: Mapping[str, Any], entry: dict[str, Any],
                     scope: _PlanScope) -> None:
    """A plugin kind's step as its `describe` puts it (`POST https://…`), or
    why it could not run (the plugin is missing or of another major version)."""
    from chatflow.runtime.actions.plugin_steps import describe_plugin, plugin_problem

    problem = plugin_problem(action)
    if problem is not None:
        entry["error"] = problem
        return
    scope.read_unknown = []
    try:
        entry["describe"] = describe_plugin(action, scope)
    except LookupError as exc:
        entry["error"] = str(exc)
        return
    if scope.read_unknown:
        entry["describe"] += " (reads " + ", ".join(dict.fromkeys(scope.read_unknown)) + \
            ", known at run time)"


def _render_or_later(expr: Any, scope: _PlanScope) -> str:
    """A message or prompt's text, or, when it fails only for reading a field
    of a step that has not run (an `if` on it), when it will be known."""
    scope.read_unknown = []
    try:
        return render(expr, scope)
    except EvalError:
        if not scope.read_unknown:
            raise
        return "(known at run time: reads " + ", ".join(dict.fromkeys(scope.read_unknown)) + ")"


def _bindings(action: Mapping[str, Any], scope: _PlanScope) -> dict[str, Any]:
    """Each binding's value as text, or, when it reads a field of a step that
    has not run, `None` (known at run time). An error is the step's error."""
    integers = frozenset(action.get("integers") or ())
    out: dict[str, Any] = {}
    check_action(action)
    for name, expr in (action.get("bindings") or {}).items():
        scope.read_unknown = []
        try:
            text = text_of(expr, scope)
        except EvalError:
            if not scope.read_unknown:
                raise
            text = ""  # failed on a value not known yet (an `if` on it): known at run time
        if scope.read_unknown:
            out[name] = None
            continue
        check_binding(text, expr, name in integers)
        out[name] = text
    return out


def plan_flow(ir: Mapping[str, Any], inputs: Mapping[str, Any], automation: int,
              feature_id: str | None = None, flow_key: str | None = None
              ) -> list[dict[str, Any]]:
    """The plan of a flow that has not started (inputs already bound)."""
    key = flow_key or str(ir["entry"])
    flow = ir["flows"][key]
    graph = FlowGraph.from_ir(flow)
    ctx = {"instance_id": "(dry-run)", "feature_id": feature_id, "automation": automation,
           "depth": 0}
    empty = _PlanScope(inputs, {}, {}, set(), ctx)
    variables: dict[str, Any] = {}
    for v in flow.get("vars", []):
        try:
            variables[v["name"]] = evaluate(v["value"], empty)
        except EvalError:
            variables[v["name"]] = None
        empty.variables = variables
    return simulate(flow, graph, statuses={}, inputs=inputs, variables=variables, fields={},
                    ctx=ctx)


def plan_instance(engine: Engine, instance_id: str) -> WorkflowInstanceState:
    """The plan from an instance's current state (read under its lock,
    nothing written)."""
    with engine.locked(instance_id) as rt:
        statuses = {n: r.status for n, r in rt.steps.items()}
        fields = {n: dict(r.outputs) for n, r in rt.steps.items()
                  if r.status in STEP_FINISHED}
        approved = frozenset(n for n, r in rt.steps.items() if r.extra.get("approved_to_run"))
        ctx = {"instance_id": rt.instance_id, "feature_id": rt.status.feature_id,
               "automation": rt.automation, "depth": rt.status.depth}
        plan = simulate(rt.flow, rt.graph, statuses=statuses, inputs=rt.state.inputs,
                        variables=rt.vars, fields=fields, ctx=ctx, approved=approved)
        return WorkflowInstanceState(instance_id, rt.inst_status, rt.sched.progress(), [],
                                     sorted(rt.waiting), sorted(rt.running), plan=plan)


def render_plan(plan: list[dict[str, Any]]) -> str:
    """The plan as text, one line per node; under a `shell` step, one line
    per binding with its value (JSON text; "(known at run time)" when it
    reads a step that has not run)."""
    lines = []
    for i, e in enumerate(plan, 1):
        what = e.get("command") or e.get("message") or e.get("agent") or e.get("target") \
            or e.get("flow") or e.get("var") or e.get("describe") or ""
        action = e.get("action", e.get("kind", ""))
        decision = e.get("decision", "")
        line = f"{i:3}. {e['step']:<20} {decision:<10} {action:<8} {what}".rstrip()
        when = e.get("when") if decision != "skipped" else None  # the reason shows it
        extra = [x for x in (e.get("reason"), when, e.get("error")) if x]
        if extra:
            line += "  (" + "; ".join(str(x) for x in extra) + ")"
        lines.append(line)
        for name, value in (e.get("bindings") or {}).items():
            shown = "(known at run time)" if value is None else _show(value)
            lines.append(f"{'':<6}{name} = {shown}")
    return "\n".join(lines)

