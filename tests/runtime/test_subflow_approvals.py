"""Issue 7 item 2: approvals inside sub-flows, through `WorkflowEngine` on
every state-store backend.

A `call` step whose child waits for a person waits too (gate `child`), but
the decision belongs to the child's own waiting step: deciding on the call
step is a usage error that names that step; approving it lets the instance
that drives the tree (`driver_of`) go on with `resume`; a call step that goes
back to its decided child is not a new attempt. Grandchildren too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import backend, store_url  # noqa: F401  (fixtures)
from chatflow.compiler.api import compile_path
from chatflow.diagnostics import ChatflowError, UsageError
from chatflow.runtime.api import WorkflowEngine
from chatflow.runtime.store import open_store
from chatflow.runtime.waits import driver_of, waiting_points


@pytest.fixture()
def engine(store_url: str, tmp_path: Path,  # noqa: F811
           monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkflowEngine]:
    monkeypatch.chdir(tmp_path)
    store = open_store(store_url)
    eng = WorkflowEngine(store, workdir=str(tmp_path))
    yield eng
    store.close()


def start(engine: WorkflowEngine, tmp: Path, src: str, **kw: Any) -> str:
    p = tmp / "t.flow"
    p.write_text(src, encoding="utf-8")
    res = compile_path(str(p), "t")
    assert res.ir is not None, [d.message for d in res.diagnostics]
    iid = engine.start_workflow_instance(res.ir, automation_level=50, **kw).instance_id
    engine.run_until_blocked(iid)
    return iid


def child_of(engine: WorkflowEngine, iid: str) -> str:
    kids = [c for c in engine.state(iid).children if engine.store.exists(c)]
    assert len(kids) == 1, kids
    return kids[0]


def events(engine: WorkflowEngine, iid: str, etype: str, step: str) -> list[Any]:
    return [e for e in engine.history(iid) if e.type == etype and e.step == step]


TWO_LEVELS = """
flow t() -> (done: bool) {
  step staging: call child()
  step after_it: shell "echo after"
  output done = staging.shipped
}
flow child() -> (shipped: bool) {
  step prep: shell "echo prep"
  step checkout: approve "ship it?"
  output shipped = checkout.approved
}
"""

THREE_LEVELS = """
flow t() -> (r: bool) {
  step staging: call mid()
  output r = staging.ok
}
flow mid() {
  step deploy: call leaf()
}
flow leaf() {
  step checkout: approve "ship it?"
}
"""


def test_the_wait_is_at_the_childs_step_and_the_parent_drives_on(engine: WorkflowEngine,
                                                                  tmp_path: Path) -> None:
    parent = start(engine, tmp_path, TWO_LEVELS)
    child = child_of(engine, parent)
    info = engine.status(parent)
    assert info.status == "waiting_approval"
    assert info.steps["staging"].waiting == {"gate": "child", "child_instance_id": child}
    points = waiting_points(engine.store, parent)
    assert [(p.instance_id, p.step, p.gate, p.message, p.path) for p in points] == [
        (child, "checkout", "approve", "ship it?", ("staging",))]
    assert driver_of(engine.store, child) == parent
    assert driver_of(engine.store, parent) == parent
    assert engine.waiting_points(parent) == points and engine.driver_of(child) == parent

    engine.approve(child, "checkout", by="ann")
    engine.resume(parent)
    info = engine.status(parent)
    assert info.status == "succeeded", info.error
    assert info.outputs == {"done": True}
    # going back to the decided child is not a new attempt
    assert info.steps["staging"].attempts == 1
    started = events(engine, parent, "step_started", "staging")
    assert [e.data["attempt"] for e in started] == [1, 1]
    assert started[1].data.get("resumed") is True
    assert started[0].data["child_instance_id"] == started[1].data["child_instance_id"] == child


@pytest.mark.parametrize("reject", [False, True])
def test_deciding_on_the_waiting_call_step_is_a_usage_error(engine: WorkflowEngine,
                                                            tmp_path: Path,
                                                            reject: bool) -> None:
    parent = start(engine, tmp_path, TWO_LEVELS)
    child = child_of(engine, parent)
    before = [e.seq for e in engine.history(parent)]
    decide = engine.reject if reject else engine.approve
    with pytest.raises(ChatflowError) as err:
        decide(parent, "staging", "ann")
    assert isinstance(err.value, UsageError)
    msg = err.value.message
    assert f"chatflow approve {child} checkout" in msg
    assert f"chatflow resume {parent}" in msg
    # nothing was recorded, and resuming still waits without a new attempt
    assert [e.seq for e in engine.history(parent)] == before
    engine.resume(parent)
    info = engine.status(parent)
    assert info.status == "waiting_approval"
    assert info.steps["staging"].attempts == 1
    assert len(events(engine, parent, "step_started", "staging")) == 1


def test_a_decided_child_is_resumed_from_the_parent(engine: WorkflowEngine,
                                                    tmp_path: Path) -> None:
    parent = start(engine, tmp_path, TWO_LEVELS)
    child = child_of(engine, parent)
    engine.approve(child, "checkout", by="ann")
    # the parent's call step still waits, but only for a `resume`
    points = waiting_points(engine.store, parent)
    assert [(p.instance_id, p.step, p.gate, p.decidable) for p in points] == [
        (parent, "staging", "child", False)]
    with pytest.raises(ChatflowError) as err:
        engine.approve(parent, "staging", "ann")
    assert "no longer waits" in err.value.message
    assert f"chatflow resume {parent}" in err.value.message
    engine.resume(parent)
    assert engine.status(parent).status == "succeeded"


def test_a_rejection_in_the_child_fails_the_call(engine: WorkflowEngine,
                                                 tmp_path: Path) -> None:
    parent = start(engine, tmp_path, TWO_LEVELS)
    child = child_of(engine, parent)
    engine.reject(child, "checkout", by="bob", comment="not today")
    engine.resume(parent)
    info = engine.status(parent)
    assert info.status == "failed"
    assert info.steps["staging"].status == "failed"
    assert info.steps["staging"].attempts == 1
    assert child in (info.steps["staging"].error or "")
    assert info.steps["after_it"].status == "cancelled"


def test_grandchildren_name_the_leaf_and_the_root_drives_on(engine: WorkflowEngine,
                                                            tmp_path: Path) -> None:
    root = start(engine, tmp_path, THREE_LEVELS)
    mid = child_of(engine, root)
    leaf = child_of(engine, mid)
    points = waiting_points(engine.store, root)
    assert [(p.instance_id, p.step, p.path) for p in points] == [
        (leaf, "checkout", ("staging", "deploy"))]
    assert driver_of(engine.store, leaf) == root
    assert driver_of(engine.store, mid) == root
    for iid, step in ((root, "staging"), (mid, "deploy")):
        with pytest.raises(ChatflowError) as err:
            engine.approve(iid, step, "ann")
        assert f"chatflow approve {leaf} checkout" in err.value.message
        assert f"chatflow resume {root}" in err.value.message
    engine.approve(leaf, "checkout", by="ann")
    engine.resume(root)
    for iid, step in ((root, "staging"), (mid, "deploy")):
        info = engine.status(iid)
        assert info.status == "succeeded", (iid, info.error)
        assert info.steps[step].attempts == 1
    assert engine.status(leaf).status == "succeeded"


def test_resuming_without_a_decision_keeps_waiting(engine: WorkflowEngine,
                                                   tmp_path: Path) -> None:
    root = start(engine, tmp_path, THREE_LEVELS)
    for _ in range(3):
        engine.resume(root)
    info = engine.status(root)
    assert info.status == "waiting_approval"
    assert info.steps["staging"].attempts == 1
    assert len(events(engine, root, "step_started", "staging")) == 1


def test_each_re_wait_of_a_call_is_the_same_attempt(engine: WorkflowEngine,
                                                    tmp_path: Path) -> None:
    parent = start(engine, tmp_path, """
flow t() {
  step staging: call child()
}
flow child() {
  step first: approve "first?"
  step second: approve "second?"
}""")
    child = child_of(engine, parent)
    for step in ("first", "second"):
        [point] = engine.waiting_points(parent)
        assert (point.instance_id, point.step) == (child, step)
        engine.approve(child, step, by="ann")
        engine.resume(parent)
    info = engine.status(parent)
    assert info.status == "succeeded", info.error
    assert info.steps["staging"].attempts == 1
    started = events(engine, parent, "step_started", "staging")
    assert [(e.data["attempt"], e.data.get("resumed", False)) for e in started] == [
        (1, False), (1, True), (1, True)]
    waits = events(engine, parent, "step_waiting_approval", "staging")
    assert [e.data["gate"] for e in waits] == ["child", "child"]
