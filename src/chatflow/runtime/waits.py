"""Where a tree of instances waits for a person, and which instance drives on.

A `call` step whose child waits for a person waits too (gate `child`), but a
decision on it would mean nothing: the person decides on the child's own
waiting step (or a grandchild's...). These functions follow the `child`
gates down to the steps that really wait, and back up to the instance whose
`resume` drives the whole tree on. They read stored records only (any
backend, pinned IR or not) and never take a lock.

    waiting_points(store, instance_id) -> list[WaitPoint]
        every step of the instance's tree that waits for a person, reached
        through the `call` steps that wait on their children (source order);
        a `call` step whose child no longer waits (it was decided on) is a
        WaitPoint with gate `child`: `resume` goes on from there.
    driver_of(store, instance_id) -> str
        the instance whose `resume` drives `instance_id` on: its topmost
        ancestor reached through `call` steps that wait on (or run) it.
    refuse_decision(store, instance_id, step, record) -> ChatflowError
        the usage error for a decision on a `call` step that waits for its
        sub-flow: the steps to decide on instead, and what to resume.
    waiting_view(record) -> dict | None
        what a waiting step waits for: {"gate"[, "message", "child_instance_id"]}.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chatflow.diagnostics import ChatflowError, UsageError
from chatflow.runtime.records import RUNNING, WAITING_APPROVAL

__all__ = ["WaitPoint", "driver_of", "refuse_decision", "waiting_points", "waiting_view"]

CHILD_GATE = "child"
"""The gate of a `call` step that waits because its child instance waits."""


@dataclass(frozen=True, slots=True)
class WaitPoint:
    """One step that waits for a person: `chatflow approve INSTANCE_ID STEP`."""

    instance_id: str
    step: str
    gate: str                       # approve / risk / in_doubt; `child`: resume
    message: str | None = None      # an `approve` step's message
    path: tuple[str, ...] = ()      # the call steps from the asked instance down to it

    @property
    def decidable(self) -> bool:
        """Whether `chatflow approve` takes it (a `child` gate wants `resume`)."""
        return self.gate != CHILD_GATE

    def to_dict(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "step": self.step, "gate": self.gate,
                "message": self.message, "path": list(self.path)}


def _waiting_steps(store: Any, instance_id: str) -> Iterator[Any]:
    """The instance's waiting step records, in source order when known."""
    state = store.load_state(instance_id)
    order = list(store.load_status(instance_id).current_steps)
    order += [n for n in state.steps if n not in order]
    for name in order:
        rec = state.steps.get(name)
        if rec is not None and rec.status == WAITING_APPROVAL:
            yield rec


def waiting_points(store: Any, instance_id: str) -> list[WaitPoint]:
    """Every step of the tree under `instance_id` that waits for a person."""
    out: list[WaitPoint] = []
    seen = {instance_id}

    def walk(iid: str, path: tuple[str, ...]) -> None:
        try:
            records = list(_waiting_steps(store, iid))
        except ChatflowError:  # a damaged or vanished child: nothing to offer there
            return
        for rec in records:
            gate = str(rec.extra.get("gate") or "risk")
            child = rec.extra.get("child_instance_id")
            if gate == CHILD_GATE and isinstance(child, str) and child not in seen \
                    and store.exists(child):
                seen.add(child)
                before = len(out)
                walk(child, (*path, rec.name))
                if len(out) > before:
                    continue
            message = rec.extra.get("message")
            out.append(WaitPoint(iid, rec.name, gate,
                                 message if isinstance(message, str) else None, path))

    walk(instance_id, ())
    return out


def driver_of(store: Any, instance_id: str) -> str:
    """The instance whose `resume` drives `instance_id` on: go up while the
    parent's `call` step for this instance waits on it (or runs it)."""
    current = instance_id
    seen = {current}
    while True:
        try:
            parent = store.load_status(current).parent_instance_id
            if not parent or parent in seen or not store.exists(parent):
                return current
            steps = store.load_state(parent).steps
        except ChatflowError:
            return current
        calls = [r for r in steps.values()
                 if r.extra.get("child_instance_id") == current
                 and r.status in (WAITING_APPROVAL, RUNNING)]
        if not calls:
            return current
        seen.add(parent)
        current = parent


def refuse_decision(store: Any, instance_id: str, step: str, record: Any) -> ChatflowError:
    """A decision on a `call` step that waits for its sub-flow (exit 2): name
    the steps of the sub-flow (or deeper) that wait for a person, and the
    instance to resume; or say that the sub-flow no longer waits."""
    child = str(record.extra.get("child_instance_id") or "")
    points = [p for p in waiting_points(store, child) if p.decidable] if child else []
    drive = driver_of(store, instance_id)
    head = (f"step `{step}` of {instance_id} is a `call` that waits for its sub-flow "
            f"{child}, not for a decision of its own")
    if not points:
        return UsageError(f"{head}; the sub-flow no longer waits for a person: "
                             f"continue with: chatflow resume {drive}")
    todo = "".join(f"\n  chatflow approve {p.instance_id} {p.step}"
                   + (f"   ({p.message})" if p.message else "") for p in points)
    return UsageError(f"{head}; decide on the step that waits:{todo}\n"
                         f"then continue with: chatflow resume {drive}")


def waiting_view(record: Any) -> dict[str, Any] | None:
    """What a waiting step waits for (`StepInfo.waiting`), None otherwise."""
    if record.status != WAITING_APPROVAL:
        return None
    gate = record.extra.get("gate") or "risk"
    view: dict[str, Any] = {"gate": gate}
    if "message" in record.extra:
        view["message"] = record.extra["message"]
    if gate == CHILD_GATE and "child_instance_id" in record.extra:
        view["child_instance_id"] = record.extra["child_instance_id"]
    return view
