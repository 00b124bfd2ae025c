"""Small builders shared by the state-store tests."""

from __future__ import annotations

from chatflow.runtime.store import NewEvent, StateRecord, StateStore, StatusRecord, StepRecord


def create(store: StateStore, iid: str = "inst-1", feature: str | None = "F-1",
           flow: str = "feature") -> StatusRecord:
    return store.create_instance(
        StatusRecord(iid, flow, "1.0", feature_id=feature, automation=60),
        StateRecord(iid, inputs={"spec": "x"}, variables={"n": 0}),
        [NewEvent("instance_started", data={"inputs": {"spec": "x"}})])


def record_step(store: StateStore, iid: str, i: int, expected_rev: int | None = None) -> int:
    name = f"s{i}"
    with store.transaction(iid, expected_rev) as tx:
        tx.put_step(StepRecord(name, "succeeded", 1, {"i": i}))
        tx.set_variables({"n": i})
        tx.append("step_completed", step=name, data={"status": "succeeded"})
        tx.set_status(progress=0.5, current_steps=[name])
    assert tx.result is not None
    return tx.result.rev
