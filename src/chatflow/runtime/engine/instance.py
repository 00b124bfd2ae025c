"""One instance as the engine holds it in memory between calls (`Instance`:
records, schedule, pending change) and the evaluator's view of it (`Scope`),
with the small read-only helpers every engine module asks of an instance."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chatflow.diagnostics import UsageError
from chatflow.runtime.evaluator import EvalError
from chatflow.runtime.quota import limits_from_settings
from chatflow.runtime.records import CANCELLED, RUNNING, WAITING_APPROVAL
from chatflow.runtime.scheduler import FlowGraph, Schedule
from chatflow.runtime.store.records import (
    Change,
    NewEvent,
    StateRecord,
    StatusRecord,
    StepRecord,
    utc_now,
)


class Unpinned(UsageError):
    """The instance has no pinned IR (migrated from a v1.0 store): it can be
    read from its stored records, not driven or decided on."""

    def __init__(self, state: StateRecord) -> None:
        super().__init__(
            f"instance {state.instance_id} has no pinned IR (it was migrated from a v1.0 "
            "store): `status`, `history` and `artifacts` show it, but it cannot be driven "
            "or decided on; start a new instance instead")
        self.state = state


class Instance:
    """The engine's in-memory view of one instance (kept between calls and
    reloaded only when the store's revision moved)."""

    def __init__(self, status: StatusRecord, state: StateRecord, ir: dict[str, Any],
                 graph: FlowGraph) -> None:
        self.status = status
        self.state = state
        self.ir = ir
        self.flow_key = str(state.extra.get("flow_key") or ir["entry"])
        self.flow: dict[str, Any] = ir["flows"][self.flow_key]
        self.graph = graph
        self.steps: dict[str, StepRecord] = dict(state.steps)
        self.blank: dict[str, StepRecord] = {}  # pending records handed out by step()
        self.vars: dict[str, Any] = dict(state.variables)
        self.outputs: dict[str, Any] = dict(state.outputs)
        self.extra: dict[str, Any] = dict(state.extra)
        self.sched = Schedule(graph, {n: r.status for n, r in self.steps.items()})
        self.running: set[str] = {n for n, r in self.steps.items()
                                  if r.status == RUNNING and n in graph.step_set}
        self.waiting: set[str] = {
            n for n, r in self.steps.items() if r.status == WAITING_APPROVAL
        }
        # pending change
        self.status_changes: dict[str, Any] = {}
        self.dirty_steps: dict[str, StepRecord] = {}
        self.var_changes: dict[str, Any] = {}
        self.output_changes: dict[str, Any] = {}
        self.extra_changes: dict[str, Any] = {}
        self.children: list[str] = []
        self.all_children: list[str] = list(state.children)
        self.events: list[NewEvent] = []
        # done once the lock is released (the engine never holds two
        # instances' locks at once): children to stop, spending to roll up
        self.stop_children: list[tuple[str, str, str]] = []  # (child, status, error)
        self.child_stop: tuple[str, str] = (CANCELLED, "cancelled")
        self.after_unlock: list[Callable[[], None]] = []
        self.limits = limits_from_settings(self.flow.get("settings"))
        self.has_limits = bool(self.limits)  # read per step: computed once
        self.var_types: dict[str, Any] = {}  # the first declaration of a name wins
        for v in self.flow.get("vars", []):
            self.var_types.setdefault(v["name"], v.get("type"))

    @property
    def instance_id(self) -> str:
        return self.status.instance_id

    @property
    def automation(self) -> int:
        return 100 if self.status.automation is None else int(self.status.automation)

    @property
    def inst_status(self) -> str:
        return str(self.status_changes.get("status", self.status.status))

    def step(self, nid: str) -> StepRecord:
        rec = self.steps.get(nid)
        if rec is not None:
            return rec
        # a step not run yet is read several times before it first runs:
        # build its (immutable) pending record once, not on every read
        rec = self.blank.get(nid)
        if rec is None:
            rec = self.blank[nid] = StepRecord(name=nid)
        return rec

    def put(self, rec: StepRecord) -> None:
        self.blank.pop(rec.name, None)
        self.steps[rec.name] = rec
        self.dirty_steps[rec.name] = rec
        if rec.status == RUNNING and rec.name in self.graph.step_set:
            self.running.add(rec.name)
        else:
            self.running.discard(rec.name)
        if rec.status == WAITING_APPROVAL:
            self.waiting.add(rec.name)
        else:
            self.waiting.discard(rec.name)

    def event(self, etype: str, step: str | None = None, **data: Any) -> None:
        self.events.append(NewEvent(etype, step, data, utc_now()))

    def has_changes(self) -> bool:
        return bool(self.status_changes or self.dirty_steps or self.var_changes
                    or self.output_changes or self.extra_changes or self.children
                    or self.events)

    def take_change(self) -> Change:
        # the pending dicts are handed over (not copied) and replaced by empty
        # ones: nothing else holds them, and this runs once per durable step
        ch = Change(
            status=self.status_changes,
            steps=tuple(self.dirty_steps.values()),
            variables=self.var_changes,
            outputs=self.output_changes,
            extra=self.extra_changes,
            children=tuple(self.children),
            events=tuple(self.events),
        )
        self.status_changes = {}
        self.dirty_steps = {}
        self.var_changes = {}
        self.output_changes = {}
        self.extra_changes = {}
        self.children.clear()
        self.events = []
        return ch


class Scope:
    """The evaluator's view of an instance (lazy: nothing is copied)."""

    def __init__(self, rt: Instance, attempt: int = 1,
                 self_fields: Mapping[str, Any] | None = None) -> None:
        self.rt = rt
        self.attempt = attempt
        self.self_fields = self_fields or {}

    def param(self, name: str) -> Any:
        inputs = self.rt.state.inputs
        if name not in inputs:
            raise EvalError(f"unknown parameter `{name}`")
        return inputs[name]

    def var(self, name: str) -> Any:
        if name not in self.rt.vars:
            raise EvalError(f"unknown variable `{name}`")
        return self.rt.vars[name]

    def ctx(self, name: str) -> Any:
        st = self.rt.status
        values = {
            "instance_id": st.instance_id,
            "feature_id": st.feature_id,
            "automation": self.rt.automation,
            "attempt": self.attempt,
            "depth": st.depth,
        }
        if name not in values:
            raise EvalError(f"unknown context value `ctx.{name}`")
        return values[name]

    def step_field(self, step: str, field: str) -> Any:
        rec = self.rt.steps.get(step)
        if rec is None:
            return None
        return rec.outputs.get(field)

    def self_field(self, name: str) -> Any:
        if name not in self.self_fields:
            raise EvalError(f"unknown field of this step `{name}`")
        return self.self_fields[name]


def where(rt: Instance, nid: str, what: str, exc: Exception) -> str:
    """An error message that names the step and its source line."""
    span = rt.graph.nodes[nid].get("span") or {}
    src = (rt.flow.get("source") or {}).get("file")
    loc = ""
    if span.get("line"):
        loc = f" ({src}:{span['line']})" if src else f" (line {span['line']})"
    return f"step `{nid}`{loc}: {what}: {exc}"


def strategy(flow: Mapping[str, Any]) -> str:
    """The flow's `parallelism`: sequential (default), concurrent, parallel."""
    value = (flow.get("settings") or {}).get("parallelism", "sequential")
    return str(value) if value in ("sequential", "concurrent", "parallel") else "sequential"


def iteration_of(rt: Instance, nid: str) -> int | None:
    """The iteration of the innermost repeat around `nid`, if any."""
    p = rt.graph.parent[nid]
    while p is not None:
        if rt.graph.kind(p) == "repeat":
            return int(rt.step(p).extra.get("iteration", 1))
        p = rt.graph.parent[p]
    return None


def iteration_entry(rec: StepRecord, iteration: int) -> dict[str, Any]:
    """What a repeat keeps of one body node's round (no nested history)."""
    d: dict[str, Any] = {"iteration": iteration, "status": rec.status,
                         "attempts": rec.attempts, "outputs": dict(rec.outputs)}
    if rec.error:
        d["error"] = rec.error
    child = rec.extra.get("child_instance_id")
    if child:
        d["child_instance_id"] = child
    return d
