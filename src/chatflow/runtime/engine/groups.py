"""Groups: starting a `parallel`/`repeat`/block group, the `max` of a
`parallel` group, and what happens when all of a group's members finished
(a `repeat` checks `until` and goes round again or ends)."""

from __future__ import annotations

from dataclasses import replace

from chatflow.runtime.engine.completion import group_done
from chatflow.runtime.engine.instance import Instance, Scope, iteration_entry, where
from chatflow.runtime.evaluator import EvalError, evaluate
from chatflow.runtime.records import FAILED, RUNNING, SUCCEEDED
from chatflow.runtime.store.records import StepRecord, utc_now


def group_full(rt: Instance, nid: str) -> bool:
    """Whether `nid`'s `parallel` group already runs `max` members."""
    p = rt.graph.parent[nid]
    if p is None:
        return False
    limit = rt.graph.nodes[p].get("max")
    if rt.graph.kind(p) != "parallel" or not limit:
        return False
    status = rt.sched.status
    return sum(1 for m in rt.graph.members[p] if status[m] == RUNNING) >= int(limit)


def start_group(rt: Instance, gid: str) -> None:
    rec = rt.step(gid)
    node = rt.graph.nodes[gid]
    iteration = 1
    if node.get("kind") == "repeat":
        iteration = int(rec.extra.get("iteration", 0)) + 1
    rt.put(replace(rec, status=RUNNING, started_at=utc_now(),
                   extra={**rec.extra, "iteration": iteration}))
    rt.sched.start_group(gid)
    rt.event("group_started", gid, kind=node.get("kind"), iteration=iteration)


def finish_group(rt: Instance, gid: str) -> None:
    node = rt.graph.nodes[gid]
    rec = rt.step(gid)
    failed = rt.sched.member_failed(gid)
    if node.get("kind") == "repeat":
        # a failure in the body only ends this iteration: `until` decides
        iteration = int(rec.extra.get("iteration", 1))
        try:
            held = evaluate(node["until"], Scope(rt)) is True
        except EvalError as exc:
            group_done(rt, gid, FAILED, {"ok": False, "iterations": iteration},
                       error=where(rt, gid, "until", exc))
            return
        limit = int(node.get("max") or 1)
        if held or iteration >= limit:
            err = None
            if not held:
                err = f"repeat `{gid}` ran {iteration} times without `until` holding"
            group_done(rt, gid, SUCCEEDED if held else FAILED,
                       {"ok": held, "iterations": iteration}, error=err)
            return
        # next iteration: archive this round's results, reset the body
        body = rt.graph.subtree(gid)
        snapshot = {m: iteration_entry(rt.step(m), iteration) for m in body}
        rt.event("iteration_completed", gid, iteration=iteration, failed=failed)
        for m in rt.sched.reset_iteration(gid):
            old = rt.step(m)
            rt.put(StepRecord(name=m, iterations=(*old.iterations, snapshot[m]),
                              outputs=old.outputs))
        rt.put(replace(rec, outputs={"ok": False, "iterations": iteration},
                       extra={**rec.extra, "iteration": iteration + 1}))
        return
    group_done(rt, gid, FAILED if failed else SUCCEEDED, {"ok": not failed})
