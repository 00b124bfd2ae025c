"""How steps and groups end: a step's completion (with its `out` fields),
cancelling, skipping and failing nodes that never ran, fail-fast inside a
`parallel` group, and the stop marker that makes an instance end `failed`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chatflow.runtime.engine.claims import CLAIMS
from chatflow.runtime.engine.instance import Instance, Scope, iteration_of, where
from chatflow.runtime.evaluator import EvalError, evaluate
from chatflow.runtime.records import (
    CANCELLED,
    FAILED,
    RUNNING,
    SKIPPED,
    STEP_FINISHED,
    SUCCEEDED,
    WAITING_APPROVAL,
)
from chatflow.runtime.store.records import StepRecord, utc_now
from chatflow.runtime.values import check_type, mismatch


def complete(rt: Instance, nid: str, status: str, fields: dict[str, Any], *,
             attempts: int | None = None, error: str | None = None, **data: Any) -> None:
    """A step finished (after running, or by a decision)."""
    rec = rt.step(nid)
    node = rt.graph.nodes[nid]
    outs = dict(fields)
    if status in (SUCCEEDED, FAILED) and node.get("kind") == "step":
        for o in (node.get("options") or {}).get("out", []):
            try:
                val = evaluate(o["value"], Scope(rt, rec.attempts or 1, outs))
                if not check_type(val, o["type"]):
                    raise EvalError(mismatch(val, o["type"]),
                                    f"out {o['name']}")
                outs[o["name"]] = val
            except EvalError as exc:
                outs[o["name"]] = None
                if status == SUCCEEDED:
                    status = FAILED
                    outs["ok"] = False if "ok" in outs else outs.get("ok")
                    error = where(rt, nid, f"out {o['name']}", exc)
    extra = rec.extra
    if "gate" in extra or "in_doubt" in extra:
        extra = {k: v for k, v in extra.items() if k not in ("gate", "in_doubt")}
    # built directly: dataclasses.replace costs several µs per step
    now = utc_now()
    new = StepRecord(name=rec.name, status=status,
                     attempts=rec.attempts if attempts is None else attempts,
                     outputs=outs, started_at=rec.started_at or now, finished_at=now,
                     iterations=rec.iterations, error=error, extra=extra)
    rt.put(new)
    rt.sched.finish(nid, status)
    ev: dict[str, Any] = {"status": status, "attempts": new.attempts, "outputs": outs}
    if error:
        ev["error"] = error
    ev.update(data)
    iteration = iteration_of(rt, nid)
    if iteration is not None:
        ev["iteration"] = iteration
    rt.event("step_completed", nid, **ev)
    if status == FAILED and nid not in rt.graph.continue_on_error:
        fail_fast(rt, nid)


def fail_fast(rt: Instance, nid: str) -> None:
    """A member of a `parallel` group failed: cancel its unfinished
    siblings (running ones are killed) unless they are continue_on_error."""
    p = rt.graph.parent[nid]
    if p is None or rt.graph.kind(p) != "parallel" or rt.sched.status[p] != RUNNING:
        return
    ids: list[str] = []
    for m in rt.graph.members[p]:
        if m == nid or m in rt.graph.continue_on_error \
                or rt.sched.status[m] in STEP_FINISHED:
            continue
        ids.append(m)
        ids.extend(rt.graph.subtree(m))
    if ids:
        cancel_nodes(rt, ids, f"`{nid}` failed in parallel group `{p}` (fail-fast)")


def cancel_nodes(rt: Instance, ids: list[str], reason: str) -> None:
    """Cancel unfinished nodes now, in the given (pre-)order: a running
    step is killed (its result, if it still comes, is discarded) and a
    running `call` step's child instance is cancelled too."""
    now = utc_now()
    for nid in ids:
        if rt.sched.status[nid] in STEP_FINISHED:
            continue
        rec = rt.step(nid)
        child = rec.extra.get("child_instance_id")
        if nid in rt.running:
            # killed here if this process executes it (other processes
            # notice through their watcher: the step is no longer theirs)
            CLAIMS.kill(rec.owner or "", rt.instance_id, rec.name)
        if child and (nid in rt.running or rec.status == WAITING_APPROVAL):
            rt.stop_children.append((str(child), *rt.child_stop))
        rt.put(replace(rec, status=CANCELLED, outputs={}, finished_at=now, owner=None,
                       lease_until=None, error=reason))
        rt.sched.finish_single(nid, CANCELLED)
        etype = "group_completed" if rt.graph.is_group(nid) else "step_completed"
        rt.event(etype, nid, status=CANCELLED, reason=reason)


def finish_node(rt: Instance, nid: str, status: str, *,
                error: str | None = None, when: Any = None) -> None:
    """Cancel / skip / fail a node that never ran (a group takes its
    members with it)."""
    rec = rt.step(nid)
    rt.put(StepRecord(name=nid, status=status, attempts=rec.attempts, outputs={},
                      started_at=rec.started_at, finished_at=utc_now(),
                      iterations=rec.iterations, error=error, extra=rec.extra))
    changed = rt.sched.finish(nid, status)
    data: dict[str, Any] = {"status": status}
    if error:
        data["error"] = error
    if status == SKIPPED:
        data["when"] = when
    etype = "group_completed" if rt.graph.is_group(nid) else "step_completed"
    rt.event(etype, nid, **data)
    for m in changed:
        rt.put(replace(rt.step(m), status=status, outputs={}, finished_at=utc_now(),
                       owner=None, lease_until=None))
        etype = "group_completed" if rt.graph.is_group(m) else "step_completed"
        rt.event(etype, m, status=status, reason=f"group `{nid}` {status}")


def group_done(rt: Instance, gid: str, status: str, fields: dict[str, Any],
               error: str | None = None) -> None:
    rec = rt.step(gid)
    rt.put(replace(rec, status=status, outputs=fields, finished_at=utc_now(), error=error))
    rt.sched.finish(gid, status)
    data: dict[str, Any] = {"status": status, "outputs": fields}
    if error:
        data["error"] = error
    rt.event("group_completed", gid, **data)
    if status == FAILED:
        fail_fast(rt, gid)


def set_stop(rt: Instance, kind: str, error: str) -> None:
    """Remember that a stop (max_depth, quota) happened: the instance
    ends `failed` even if the step was continue_on_error."""
    if not rt.extra.get("stop"):
        rt.extra["stop"] = rt.extra_changes["stop"] = {"kind": kind, "error": error}
