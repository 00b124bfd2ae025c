"""The engine's read views of an instance: the status object (steps with
durations, iterations, waits, quotas), the full state, the driver's summary,
and the same read from stored records for an unpinned (migrated) instance."""

from __future__ import annotations

import time
from typing import Any

from chatflow.runtime.engine.accounting import wall
from chatflow.runtime.engine.instance import Instance, iteration_entry, iteration_of
from chatflow.runtime.quota import Spending, quota_status
from chatflow.runtime.records import (
    PENDING,
    RUNNING,
    STEP_FINISHED,
    StepInfo,
    StepResult,
    WorkflowInstanceState,
    WorkflowState,
    WorkflowStatusInfo,
)
from chatflow.runtime.store.records import StateRecord, StatusRecord
from chatflow.runtime.views import duration_ms
from chatflow.runtime.waits import waiting_view


def instance_state(rt: Instance, ran: list[str]) -> WorkflowInstanceState:
    """What a driver returns: status, progress, what ran, waits and runs."""
    return WorkflowInstanceState(
        rt.instance_id, rt.inst_status, rt.sched.progress(), ran,
        sorted(rt.waiting, key=rt.graph.index.__getitem__),
        sorted(rt.running, key=rt.graph.index.__getitem__))


def status_info(rt: Instance) -> WorkflowStatusInfo:
    steps: dict[str, StepInfo] = {}
    now = time.time()
    for nid in rt.graph.order:
        rec = rt.step(nid)
        kind = rt.graph.kind(nid)
        # a duration once finished (to now while it runs; none while it waits)
        end = rec.finished_at if rec.status in STEP_FINISHED else None
        took = duration_ms(rec.started_at, end, now) \
            if end is not None or rec.status == RUNNING else None
        steps[nid] = StepInfo(rec.status, rec.attempts, dict(rec.outputs), kind,
                              bool(rec.extra.get("in_doubt")), rec.error,
                              iterations(rt, nid), rec.started_at, end, took,
                              waiting_view(rec))
    st = rt.status
    declared = [o["name"] for o in rt.flow.get("outputs", [])]
    outputs = {k: rt.outputs[k] for k in declared if k in rt.outputs}
    clock = wall(rt)
    quota = None
    if rt.has_limits:
        spent = Spending.from_dict(rt.extra.get("spent_tree"))
        quota = quota_status(rt.limits, spent.with_wall(clock.wall_ms), clock.waiting_ms)
    return WorkflowStatusInfo(
        st.instance_id, st.flow, rt.inst_status, rt.sched.progress(), st.feature_id,
        outputs, steps,
        sorted(rt.running | rt.waiting, key=rt.graph.index.__getitem__),
        rt.automation, st.parent_instance_id, st.depth,
        rt.status_changes.get("error", st.error), st.created_at, st.updated_at,
        quota, list(rt.all_children), clock.waiting_ms,
        dict(rt.extra.get("output_errors") or {}))


def iterations(rt: Instance, nid: str) -> list[dict[str, Any]] | None:
    """Every iteration of a node inside a `repeat` (archived rounds, then
    the current record once it started); None outside repeats."""
    current = iteration_of(rt, nid)
    if current is None:
        return None
    rec = rt.step(nid)
    out = [dict(i) for i in rec.iterations]
    if rec.status != PENDING:
        out.append(iteration_entry(rec, current))
    return out


def workflow_state(rt: Instance) -> WorkflowState:
    results = {}
    for nid in rt.graph.order:
        rec = rt.step(nid)
        results[nid] = StepResult(nid, rec.status, rec.attempts, dict(rec.outputs),
                                  rec.error, iterations(rt, nid) or [])
    return WorkflowState(
        rt.instance_id, dict(rt.state.inputs), dict(rt.vars),
        {n: r.to_json() for n, r in rt.steps.items()}, dict(rt.outputs),
        rt.status.parent_instance_id, list(rt.all_children), rt.status.depth,
        results, dict(rt.extra.get("spent") or {}),
        dict(rt.extra.get("spent_tree") or {}))


def status_from_records(st: StatusRecord, state: StateRecord) -> WorkflowStatusInfo:
    """The status object of an unpinned (migrated) instance, from what it
    stored: its status record and its step records."""
    steps = {n: StepInfo(r.status, r.attempts, dict(r.outputs), "step",
                         bool(r.extra.get("in_doubt")), r.error,
                         [dict(i) for i in r.iterations] or None)
             for n, r in state.steps.items()}
    return WorkflowStatusInfo(
        st.instance_id, st.flow, st.status, st.progress, st.feature_id, dict(state.outputs),
        steps, list(st.current_steps), st.automation if st.automation is not None else 100,
        st.parent_instance_id, st.depth, st.error, st.created_at, st.updated_at, None,
        list(state.children))


def state_from_records(st: StatusRecord, unpinned: StateRecord) -> WorkflowState:
    """The full state of an unpinned (migrated) instance, from its records."""
    return WorkflowState(
        st.instance_id, dict(unpinned.inputs), dict(unpinned.variables),
        {n: r.to_json() for n, r in unpinned.steps.items()}, dict(unpinned.outputs),
        st.parent_instance_id, list(unpinned.children), st.depth,
        {n: StepResult(n, r.status, r.attempts, dict(r.outputs), r.error,
                       [dict(i) for i in r.iterations])
         for n, r in unpinned.steps.items()},
        dict(unpinned.extra.get("spent") or {}),
        dict(unpinned.extra.get("spent_tree") or {}))
