"""Small builders the store conformance scenarios (and ChatFlow's own store
tests) share: an instance to start from, a committed step, and a
pytest-free `raises`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from chatflow.runtime.store import NewEvent, StateRecord, StateStore, StatusRecord, StepRecord

__all__ = ["create", "raises", "record_step"]


def create(store: StateStore, iid: str = "inst-1", feature: str | None = "F-1",
           flow: str = "feature") -> StatusRecord:
    """A running instance with inputs, a variable and its `instance_started` event."""
    return store.create_instance(
        StatusRecord(iid, flow, "1.0", feature_id=feature, automation=60),
        StateRecord(iid, inputs={"spec": "x"}, variables={"n": 0}),
        [NewEvent("instance_started", data={"inputs": {"spec": "x"}})])


def record_step(store: StateStore, iid: str, i: int, expected_rev: int | None = None) -> int:
    """Commit step `s<i>` (succeeded) with one event; the new revision."""
    name = f"s{i}"
    with store.transaction(iid, expected_rev) as tx:
        tx.put_step(StepRecord(name, "succeeded", 1, {"i": i}))
        tx.set_variables({"n": i})
        tx.append("step_completed", step=name, data={"status": "succeeded"})
        tx.set_status(progress=0.5, current_steps=[name])
    assert tx.result is not None
    return tx.result.rev


@contextlib.contextmanager
def raises(kind: type[BaseException], match: str = "") -> Iterator[None]:
    """`pytest.raises` without pytest: the block must raise `kind` (whose text
    contains `match`)."""
    try:
        yield
    except kind as exc:
        assert match in str(exc), f"{kind.__name__} {str(exc)!r} lacks {match!r}"
    else:
        raise AssertionError(f"did not raise {kind.__name__}")


