"""Sub-flows (`SubflowRunner`): a `call` step starts its child instance (or,
after a crash, finds it), drives it in the calling thread with its progress
relayed to the parent's sink, and turns the child's end into the step's
outcome; `max_depth` bounds the nesting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chatflow.diagnostics import ChatflowError
from chatflow.runtime.claim import ActionOutcome, Claim
from chatflow.runtime.engine.instances import EventSink
from chatflow.runtime.records import SUCCEEDED, WAITING_APPROVAL

if TYPE_CHECKING:
    from chatflow.runtime.engine.core import Engine


class SubflowRunner:
    """Runs the `call` steps of one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def max_depth(self, flow: Mapping[str, Any]) -> int:
        """`max_depth:` in the config, else the flow's setting, else 8."""
        configured = getattr(self.engine.config, "max_depth", None)
        if configured is not None:
            return int(configured)
        return int((flow.get("settings") or {}).get("max_depth", self.engine.max_depth))

    def run_call(self, claim: Claim) -> ActionOutcome:
        """A `call` step: start (or, after a crash, resume) the child
        instance and drive it in this thread."""
        engine = self.engine
        child_id = str(claim.rendered["child_instance_id"])
        with engine.locked(claim.instance_id) as rt:
            ir = rt.ir
            depth = rt.status.depth + 1
            limit = self.max_depth(rt.flow)
            feature_id = rt.status.feature_id
            level = rt.automation
        if depth > limit:
            err = (f"max_depth {limit} exceeded: calling `{claim.rendered['flow']}` would "
                   f"start an instance at depth {depth}")
            return ActionOutcome(False, {"ok": False}, err, depth_exceeded=True,
                                 depth=depth, limit=limit)
        if not engine.store.exists(child_id):
            try:
                engine.start(ir, flow_key=str(claim.rendered["flow"]),
                             inputs=dict(claim.rendered.get("args") or {}),
                             feature_id=feature_id, automation=level,
                             parent_instance_id=claim.instance_id, depth=depth,
                             instance_id=child_id)
            except ChatflowError as exc:
                return ActionOutcome(False, {"ok": False}, f"cannot start sub-flow: {exc}")
        sink = engine.instances.sink
        result = engine.drive(child_id, sink=None if sink is None else
                              subflow_sink(sink, claim.step, child_id))
        if result.status == WAITING_APPROVAL:
            return ActionOutcome(False, {"ok": False}, None, pause=True)
        with engine.locked(child_id) as crt:
            outputs = dict(crt.outputs)
            error = crt.status_changes.get("error", crt.status.error)
        ok = result.status == SUCCEEDED
        fields = {"ok": ok, **outputs, "instance_id": child_id}
        return ActionOutcome(ok, fields, None if ok else
                             f"sub-flow {child_id} {result.status}: {error or ''}".rstrip(": "))

    def link_child(self, parent_id: str, child_id: str) -> None:
        """Record `child_id` among `parent_id`'s children (create_subworkflow)."""
        with self.engine.locked(parent_id) as rt:
            if child_id not in rt.all_children:
                rt.children.append(child_id)
                rt.all_children.append(child_id)
                self.engine.instances.commit(rt)


def subflow_sink(sink: EventSink, step: str, child_id: str) -> EventSink:
    """A child's progress events, relayed to its parent's sink with
    `data["subflow"] = {"path": [call steps, outermost first], "instance_id"}`."""
    def relay(etype: str, name: str | None, data: Mapping[str, Any]) -> None:
        sub = data.get("subflow") or {}
        sink(etype, name, {**data, "subflow": {
            "path": [step, *sub.get("path", ())],
            "instance_id": sub.get("instance_id", child_id)}})
    return relay
