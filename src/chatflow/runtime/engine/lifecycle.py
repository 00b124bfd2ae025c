"""The instance's own status: recomputing it after each change (running or
waiting for a person, with the `wall` clock's pauses), and ending it —
finished (succeeded or failed, outputs bound) or stopped now (every
unfinished node cancelled)."""

from __future__ import annotations

from typing import Any

from chatflow.runtime.engine.completion import cancel_nodes
from chatflow.runtime.engine.instance import Instance, Scope
from chatflow.runtime.outputs import bind_outputs
from chatflow.runtime.quota import pause_ended, pause_started
from chatflow.runtime.records import (
    CANCELLED,
    FAILED,
    RUNNING,
    STEP_FINISHED,
    SUCCEEDED,
    WAITING_APPROVAL,
)
from chatflow.runtime.store.records import utc_now


def finish_instance(rt: Instance) -> None:
    """Every node finished: the instance ends, succeeded or failed."""
    # failed iff a node's final record failed (not continue_on_error):
    # groups absorb failures for their dependents, not for the instance.
    # O(nodes), once per instance.
    failed_node = None
    for nid in rt.graph.order:
        if rt.sched.status[nid] == FAILED and nid not in rt.graph.continue_on_error:
            if failed_node is None or (nid in rt.graph.step_set
                                       and failed_node not in rt.graph.step_set):
                failed_node = nid
            if nid in rt.graph.step_set:
                break
    outputs, output_errors = bind_instance_outputs(rt)
    error = None
    if output_errors and failed_node is None:
        name, why = next(iter(output_errors.items()))
        error = f"output `{name}`: {why}"
    stop = rt.extra.get("stop")
    status = FAILED if (failed_node is not None or error is not None or stop) \
        else SUCCEEDED
    if stop and failed_node is None:
        error = str(stop.get("error") or stop.get("kind"))
    if failed_node is not None:
        rec = rt.step(failed_node)
        error = f"step `{failed_node}` failed"
        if rec.error and rec.error.startswith(("step `", "repeat `")):
            error = rec.error
        elif rec.error:
            error += f": {rec.error}"
    end_pause(rt)
    data: dict[str, Any] = {"status": status, "outputs": outputs}
    if error:
        data["error"] = error
    if output_errors:
        data["output_errors"] = output_errors
    rt.status_changes.update(status=status, progress=rt.sched.progress(),
                             current_steps=[], error=error)
    rt.event("instance_completed", None, **data)


def bind_instance_outputs(rt: Instance) -> tuple[dict[str, Any], dict[str, str]]:
    """Bind the flow's outputs that evaluate to their declared type (see
    runtime/outputs.py); the others stay unbound, with why."""
    outputs, errors = bind_outputs(rt.flow.get("outputs", []), Scope(rt),
                                   lambda step: rt.sched.status.get(step))
    rt.outputs.update(outputs)
    rt.output_changes.update(outputs)
    if errors:
        rt.extra["output_errors"] = rt.extra_changes["output_errors"] = errors
    return outputs, errors


def fail_instance(rt: Instance, error: str, status: str = FAILED) -> None:
    """Stop the instance now: every unfinished node is cancelled and
    running steps are killed (their late results are discarded)."""
    rt.child_stop = (status, error)  # a cancel cancels the children, a stop fails them
    cancel_nodes(rt, [n for n in rt.graph.order
                      if rt.sched.status[n] not in STEP_FINISHED], error)
    rt.child_stop = (CANCELLED, "cancelled")
    outputs, output_errors = bind_instance_outputs(rt)
    end_pause(rt)
    rt.status_changes.update(status=status, error=error, progress=rt.sched.progress(),
                             current_steps=[])
    data: dict[str, Any] = {"status": status, "error": error, "outputs": outputs}
    if output_errors:
        data["output_errors"] = output_errors
    rt.event("instance_completed", None, **data)


def update_instance_status(rt: Instance, driving: bool = True) -> None:
    """Recompute the instance's status, progress and current steps. A
    wait for a person (status `waiting_approval`) stops the `wall`
    clock; it runs again when a driver goes on (not at the decision:
    until `resume`, the instance still waits for a person)."""
    cur = rt.inst_status
    if cur in (SUCCEEDED, FAILED, CANCELLED):
        return
    new = RUNNING
    if rt.waiting and not rt.running and rt.sched.next_eligible() is None \
            and not rt.sched.groups_done:
        new = WAITING_APPROVAL
    if new == WAITING_APPROVAL:
        set_waiting(rt, pause_started(rt.extra.get("waiting"), utc_now()))
    elif driving and (rt.extra.get("waiting") or {}).get("since"):
        end_pause(rt)
    current = sorted(rt.running | rt.waiting, key=rt.graph.index.__getitem__) \
        if rt.running or rt.waiting else []
    changes: dict[str, Any] = {}
    if new != rt.status.status:
        changes["status"] = new
    if list(rt.status.current_steps) != current:
        changes["current_steps"] = current
    prog = rt.sched.progress()
    if prog != rt.status.progress:
        changes["progress"] = prog
    if changes and (rt.has_changes() or "status" in changes
                    or "current_steps" in changes):
        rt.status_changes.update(changes)


def end_pause(rt: Instance) -> None:
    """Close the open wait for a person, if any (its time is kept)."""
    waiting = rt.extra.get("waiting")
    if waiting:
        set_waiting(rt, pause_ended(waiting, utc_now()))


def set_waiting(rt: Instance, waiting: dict[str, Any] | None) -> None:
    if waiting is not None:
        rt.extra["waiting"] = rt.extra_changes["waiting"] = waiting
