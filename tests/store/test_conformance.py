"""The StateStore contract, checked on every backend (file, sqlite, postgresql)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from store_helpers import create, record_step

from chatflow.runtime.store import (
    Change,
    ConflictError,
    InstanceExists,
    InstanceNotFound,
    LockTimeout,
    NewEvent,
    StateRecord,
    StateStore,
    StatusRecord,
    StepRecord,
)

SRC = str(Path(__file__).resolve().parents[2] / "src")


def run_child(code: str, *args: str, wait: bool = True) -> subprocess.Popen[str]:
    """Run Python `code` in another process (sys.argv[1:] = args)."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"})
    if wait:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    return proc


def test_create_and_load(store: StateStore) -> None:
    st = create(store)
    assert (st.rev, st.seq, st.status) == (1, 1, "running")
    assert st.created_at and st.updated_at
    assert store.exists("inst-1") and not store.exists("other")
    assert store.load_status("inst-1") == st
    state = store.load_state("inst-1")
    assert state.inputs == {"spec": "x"} and state.variables == {"n": 0}
    assert state.rev == 1 and dict(state.steps) == {}
    [ev] = list(store.iter_history("inst-1"))
    assert (ev.seq, ev.type, ev.step, dict(ev.data)) == (
        1, "instance_started", None, {"inputs": {"spec": "x"}})
    with pytest.raises(InstanceExists):
        create(store)
    with pytest.raises(InstanceNotFound):
        store.load_status("missing")
    with pytest.raises(InstanceNotFound):
        store.load_state("missing")
    with pytest.raises(InstanceNotFound):
        store.commit("missing", Change(events=(NewEvent("x"),)))


def test_commit_changes_everything_at_once(store: StateStore) -> None:
    create(store)
    with store.transaction("inst-1", expected_rev=1) as tx:
        tx.put_step(StepRecord("build", "running", 1, owner="me", lease_until=123.0))
        tx.set_variables({"n": 1, "extra": [1, 2]})
        tx.set_outputs({"merged": False})
        tx.set_extra({"spent": {"steps": 1}})
        tx.add_child("child-1")
        tx.append("step_started", step="build")
        tx.append("step_completed", step="build", data={"status": "succeeded"})
        tx.set_status(progress=0.25, current_steps=["build"], status="waiting_approval")
    st = tx.result
    assert st is not None and (st.rev, st.seq) == (2, 3)
    assert st.status == "waiting_approval" and st.current_steps == ("build",)
    fresh = store.load_state("inst-1")
    assert fresh.steps["build"] == StepRecord("build", "running", 1, owner="me",
                                              lease_until=123.0)
    assert fresh.variables == {"n": 1, "extra": [1, 2]}
    assert fresh.outputs == {"merged": False} and fresh.children == ("child-1",)
    assert fresh.extra == {"spent": {"steps": 1}} and fresh.rev == 2
    assert store.load_step("inst-1", "build") == fresh.steps["build"]
    assert store.load_step("inst-1", "nope") is None
    assert [e.type for e in store.iter_history("inst-1")] == [
        "instance_started", "step_started", "step_completed"]


def test_failed_transaction_writes_nothing(store: StateStore) -> None:
    create(store)
    with pytest.raises(RuntimeError), store.transaction("inst-1", 1) as tx:
        tx.put_step(StepRecord("a", "succeeded"))
        tx.append("step_completed", step="a")
        raise RuntimeError("boom")
    with pytest.raises(ValueError):
        store.commit("inst-1", Change(status={"rev": 5}))
    with pytest.raises(ValueError):
        store.commit("inst-1", Change(status={"status": "exploded"}))
    assert store.load_status("inst-1").rev == 1
    assert "a" not in store.load_state("inst-1").steps
    assert len(list(store.iter_history("inst-1"))) == 1


def test_optimistic_concurrency(store_factory: Callable[[], StateStore]) -> None:
    a, b = store_factory(), store_factory()
    create(a)
    assert b.load_status("inst-1").rev == 1
    record_step(a, "inst-1", 1, expected_rev=1)
    with pytest.raises(ConflictError) as err:
        record_step(b, "inst-1", 2, expected_rev=1)
    assert (err.value.expected, err.value.actual) == (1, 2)
    assert "s2" not in b.load_state("inst-1").steps
    assert record_step(b, "inst-1", 2, expected_rev=2) == 3
    assert set(a.load_state("inst-1").steps) == {"s1", "s2"}


def test_history_order_and_from_seq(store: StateStore) -> None:
    create(store)
    for i in range(1, 6):
        record_step(store, "inst-1", i)
    store.commit("inst-1", Change(status={"progress": 0.9}))   # a commit without events
    events = list(store.iter_history("inst-1"))
    assert [e.seq for e in events] == list(range(1, 7))
    assert [e.step for e in events[1:]] == ["s1", "s2", "s3", "s4", "s5"]
    assert [e.seq for e in store.iter_history("inst-1", from_seq=4)] == [4, 5, 6]
    assert list(store.iter_history("inst-1", from_seq=99)) == []
    assert store.load_status("inst-1").seq == 6


def test_feature_index_and_listing(store: StateStore) -> None:
    assert store.list_instances() == []
    create(store, "a-1", feature="F-1")
    create(store, "b-2", feature="F-2")
    create(store, "c-3", feature="F-1")
    create(store, "d-4", feature=None)
    assert [s.instance_id for s in store.list_instances("F-1")] == ["a-1", "c-3"]
    assert [s.instance_id for s in store.list_instances("F-2")] == ["b-2"]
    assert store.list_instances("F-9") == []
    assert [s.instance_id for s in store.list_instances()] == ["a-1", "b-2", "c-3", "d-4"]


def test_artifacts(store: StateStore) -> None:
    create(store)
    info = store.put_artifact("inst-1", "build", "stdout", b"hello\n")
    assert info.size == 6
    store.put_artifact("inst-1", "build", "reports/junit.xml", b"<xml/>")
    store.put_artifact("inst-1", "test", "stderr", b"")
    assert store.get_artifact("inst-1", "build", "stdout") == b"hello\n"
    assert [(a.step, a.name) for a in store.list_artifacts("inst-1")] == [
        ("build", "reports/junit.xml"), ("build", "stdout"), ("test", "stderr")]
    assert [a.name for a in store.list_artifacts("inst-1", "test")] == ["stderr"]
    for bad in ("../escape", "/abs", "a/../../b", ""):
        with pytest.raises(Exception, match="invalid artifact name"):
            store.put_artifact("inst-1", "build", bad, b"x")
    with pytest.raises(Exception, match="no artifact"):
        store.get_artifact("inst-1", "build", "nope")


def test_pinned_ir_is_deduplicated(store: StateStore) -> None:
    ir1 = {"ir_version": 1, "entry": "feature", "flows": {"feature": {"name": "feature"}}}
    ir2 = {"ir_version": 1, "entry": "feature", "flows": {"feature": {"name": "feature",
                                                                      "vars": []}}}
    r1 = store.pin_ir(ir1, "feature", "1.0")
    assert store.pin_ir(dict(reversed(list(ir1.items()))), "feature", "1.0") == r1
    r2 = store.pin_ir(ir2, "feature", "1.0")
    assert r1.key == r2.key == "feature@1.0" and r1.sha256 != r2.sha256
    assert store.load_ir(r1) == ir1 and store.load_ir(r2) == ir2
    iid = "with-ir"
    store.create_instance(StatusRecord(iid, "feature", "1.0"),
                          StateRecord(iid, ir_ref=r2))
    assert store.load_state(iid).ir_ref == r2


def test_lock_is_exclusive_across_processes(store: StateStore, store_url: str,
                                            tmp_path: Path) -> None:
    create(store)
    flag = tmp_path / "child-has-lock"
    child = run_child("""
        import sys, time, pathlib
        from chatflow.runtime.store import open_store
        s = open_store(sys.argv[1])
        with s.lock("inst-1", timeout=30):
            pathlib.Path(sys.argv[2]).write_text("1")
            time.sleep(1.5)
        """, store_url, str(flag), wait=False)
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert child.poll() is None, child.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with pytest.raises(LockTimeout, match="inst-1"), store.lock("inst-1", timeout=0.2):
        pass
    t0 = time.monotonic()
    with store.lock("inst-1", timeout=60):
        assert child.poll() is not None or time.monotonic() - t0 > 0
        with store.lock("inst-1", timeout=0.1):   # re-entrant in one thread
            pass
    child.communicate(timeout=60)
    assert child.returncode == 0


def test_lock_is_released_when_holder_is_killed(store: StateStore, store_url: str,
                                                tmp_path: Path) -> None:
    create(store)
    flag = tmp_path / "locked"
    child = run_child("""
        import sys, time, pathlib
        from chatflow.runtime.store import open_store
        s = open_store(sys.argv[1])
        with s.lock("inst-1"):
            pathlib.Path(sys.argv[2]).write_text("1")
            time.sleep(60)
        """, store_url, str(flag), wait=False)
    while not flag.exists():
        assert child.poll() is None, child.communicate()[1]
        time.sleep(0.02)
    child.kill()
    child.wait()
    with store.lock("inst-1", timeout=10):
        pass


def test_concurrent_committers_lose_nothing(store: StateStore, store_url: str) -> None:
    create(store)
    procs = [run_child("""
        import sys
        from chatflow.runtime.store import open_store, StepRecord
        s = open_store(sys.argv[1])
        for i in range(25):
            with s.transaction("inst-1") as tx:
                name = f"p{sys.argv[2]}-{i}"
                tx.put_step(StepRecord(name, "succeeded", 1))
                tx.append("step_completed", step=name)
        """, store_url, str(n), wait=False) for n in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    st = store.load_status("inst-1")
    assert st.rev == 1 + 4 * 25 and st.seq == 1 + 4 * 25
    events = list(store.iter_history("inst-1"))
    assert [e.seq for e in events] == list(range(1, 102))
    assert len(store.load_state("inst-1").steps) == 100


def test_cache_notices_other_process_writes(store: StateStore, store_url: str) -> None:
    create(store)
    record_step(store, "inst-1", 1)
    assert store.load_state("inst-1").rev == 2        # warm the cache
    run_child("""
        import sys
        from chatflow.runtime.store import open_store, StepRecord
        s = open_store(sys.argv[1])
        with s.transaction("inst-1", expected_rev=2) as tx:
            tx.put_step(StepRecord("s1", "failed", 2))
            tx.put_step(StepRecord("other", "succeeded", 1))
            tx.set_variables({"n": 42})
            tx.append("step_completed", step="other")
            tx.set_status(status="failed", error="boom")
        """, store_url)
    st = store.load_status("inst-1")
    assert (st.rev, st.status, st.error) == (3, "failed", "boom")
    state = store.load_state("inst-1")
    assert state.steps["s1"].status == "failed" and "other" in state.steps
    assert state.variables["n"] == 42
    with pytest.raises(ConflictError):
        record_step(store, "inst-1", 9, expected_rev=2)


def test_leases_round_trip(store: StateStore) -> None:
    create(store)
    now = time.time()
    with store.transaction("inst-1", 1) as tx:
        tx.put_step(StepRecord("deploy", "running", 1, owner="host:1:2",
                               lease_until=now + 60, started_at="2024-01-01T00:00:00Z"))
    step = store.load_step("inst-1", "deploy")
    assert step is not None and step.owner == "host:1:2"
    assert not step.lease_expired(now) and step.lease_expired(now + 61)


def test_many_steps_then_fresh_load(store_factory: Callable[[], StateStore]) -> None:
    a = store_factory()
    create(a)
    for i in range(300):
        record_step(a, "inst-1", i)
    b = store_factory()
    state = b.load_state("inst-1")
    assert len(state.steps) == 300 and state.variables["n"] == 299
    assert state == a.load_state("inst-1")
    assert b.load_status("inst-1") == a.load_status("inst-1")
    assert b.check("inst-1") == []
