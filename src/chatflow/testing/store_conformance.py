"""The `StateStore` conformance suite, for ChatFlow's own backends and for a
third-party one (docs/state-stores.md, "Writing a backend").

Subclass `StoreConformance` in your tests and say how to make a fresh, empty
location for your backend; pytest collects the subclass (its name must start
with `Test`) and runs every `test_*` scenario on it:

    from chatflow.testing.store_conformance import StoreConformance

    class TestRedisStore(StoreConformance):
        def make_url(self, tmp: Path) -> str:
            return f"redis://localhost/{next_free_db()}"

`open_store(url)` opens it (through the `chatflow.stores` entry points, so
install your package first); override `open_store` to build the store
yourself and `drop` to clean a location up. Scenarios that start other
processes (locks, concurrent commits) open the URL there too; set
`cross_process = False` for a backend that cannot be shared between processes.
`lose_last_event(store)` is the one hook a backend may implement to let the
lost-history scenario damage it (the scenario is skipped otherwise).

No pytest at import time: the scenarios use plain asserts, run under pytest
(setup_method / teardown_method) and skip through `unittest.SkipTest`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
from pathlib import Path
from typing import Any, ClassVar

from chatflow.runtime.store import (
    Change,
    ConflictError,
    InstanceExists,
    InstanceNotFound,
    NewEvent,
    StateRecord,
    StateStore,
    StatusRecord,
    StepRecord,
)
from chatflow.testing.store_processes import CrossProcessScenarios
from chatflow.testing.store_records import create, raises, record_step

__all__ = ["StoreConformance", "create", "record_step"]


class StoreConformance(CrossProcessScenarios):
    """The `StateStore` contract as scenarios; subclass it per backend."""

    cross_process: ClassVar[bool] = True
    """Whether the scenarios with other processes run (a shared location)."""

    tmp: Path
    url: str
    _opened: list[StateStore]

    # ------------------------------------------------------------------ hooks

    def make_url(self, tmp: Path) -> str:
        """A state URL of a fresh, empty location (`tmp` is this scenario's own
        temporary directory)."""
        raise NotImplementedError("a StoreConformance subclass says how to make_url")

    def open_store(self, url: str) -> StateStore:
        """Open the store at `url` (as another process would)."""
        from chatflow.runtime.store import open_store

        return open_store(url)

    def drop(self, url: str) -> None:
        """Remove what the scenario left at `url` beyond `tmp` (a database schema...)."""

    def lose_last_event(self, store: StateStore) -> None:
        """Damage the store the way a lost write would: the last history event
        of `inst-1` vanishes (its commit is still recorded elsewhere)."""
        raise unittest.SkipTest(f"{type(self).__name__} has no lose_last_event hook")

    # ------------------------------------------------------------------ plumbing

    def setup_method(self, method: Any = None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="cf-conformance-"))
        self._opened = []
        try:
            self.url = self.make_url(self.tmp)
        except BaseException:  # a skip too: no teardown follows a failed set-up
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def teardown_method(self, method: Any = None) -> None:
        for s in self._opened:
            with contextlib.suppress(Exception):
                s.close()
        try:
            self.drop(self.url)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def store(self) -> StateStore:
        """Another store on this scenario's location."""
        s = self.open_store(self.url)
        self._opened.append(s)
        return s

    def child(self, code: str, *args: str, wait: bool = True) -> subprocess.Popen[str]:
        """Run Python `code` in another process (sys.argv[1:] = the URL, then `args`)."""
        if not self.cross_process:
            raise unittest.SkipTest(f"{type(self).__name__} is not shared between processes")
        env = {"PATH": "/usr/bin:/bin",
               "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), self.url, *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
        if wait:
            _out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        return proc

    # ------------------------------------------------------------------ scenarios

    def test_create_and_load(self) -> None:
        store = self.store()
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
        with raises(InstanceExists):
            create(store)
        with raises(InstanceNotFound):
            store.load_status("missing")
        with raises(InstanceNotFound):
            store.load_state("missing")
        with raises(InstanceNotFound):
            store.commit("missing", Change(events=(NewEvent("x"),)))

    def test_commit_changes_everything_at_once(self) -> None:
        store = self.store()
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

    def test_failed_transaction_writes_nothing(self) -> None:
        store = self.store()
        create(store)
        with raises(RuntimeError), store.transaction("inst-1", 1) as tx:
            tx.put_step(StepRecord("a", "succeeded"))
            tx.append("step_completed", step="a")
            raise RuntimeError("boom")
        with raises(ValueError):
            store.commit("inst-1", Change(status={"rev": 5}))
        with raises(ValueError):
            store.commit("inst-1", Change(status={"status": "exploded"}))
        assert store.load_status("inst-1").rev == 1
        assert "a" not in store.load_state("inst-1").steps
        assert len(list(store.iter_history("inst-1"))) == 1

    def test_optimistic_concurrency(self) -> None:
        a, b = self.store(), self.store()
        create(a)
        assert b.load_status("inst-1").rev == 1
        record_step(a, "inst-1", 1, expected_rev=1)
        try:
            record_step(b, "inst-1", 2, expected_rev=1)
        except ConflictError as err:
            assert (err.expected, err.actual) == (1, 2)
        else:
            raise AssertionError("a stale expected_rev committed")
        assert "s2" not in b.load_state("inst-1").steps
        assert record_step(b, "inst-1", 2, expected_rev=2) == 3
        assert set(a.load_state("inst-1").steps) == {"s1", "s2"}

    def test_history_order_and_from_seq(self) -> None:
        store = self.store()
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

    def test_feature_index_and_listing(self) -> None:
        store = self.store()
        assert store.list_instances() == []
        create(store, "a-1", feature="F-1")
        create(store, "b-2", feature="F-2")
        create(store, "c-3", feature="F-1")
        create(store, "d-4", feature=None)
        assert [s.instance_id for s in store.list_instances("F-1")] == ["a-1", "c-3"]
        assert [s.instance_id for s in store.list_instances("F-2")] == ["b-2"]
        assert store.list_instances("F-9") == []
        assert [s.instance_id for s in store.list_instances()] == ["a-1", "b-2", "c-3", "d-4"]

    def test_artifacts(self) -> None:
        store = self.store()
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
            with raises(Exception, match="invalid artifact name"):
                store.put_artifact("inst-1", "build", bad, b"x")
        with raises(Exception, match="no artifact"):
            store.get_artifact("inst-1", "build", "nope")

    def test_pinned_ir_is_deduplicated(self) -> None:
        store = self.store()
        ir1 = {"ir_version": 1, "entry": "feature", "flows": {"feature": {"name": "feature"}}}
        ir2 = {"ir_version": 1, "entry": "feature",
               "flows": {"feature": {"name": "feature", "vars": []}}}
        r1 = store.pin_ir(ir1, "feature", "1.0")
        assert store.pin_ir(dict(reversed(list(ir1.items()))), "feature", "1.0") == r1
        r2 = store.pin_ir(ir2, "feature", "1.0")
        assert r1.key == r2.key == "feature@1.0" and r1.sha256 != r2.sha256
        assert store.load_ir(r1) == ir1 and store.load_ir(r2) == ir2
        iid = "with-ir"
        store.create_instance(StatusRecord(iid, "feature", "1.0"),
                              StateRecord(iid, ir_ref=r2))
        assert store.load_state(iid).ir_ref == r2

    def test_leases_round_trip(self) -> None:
        store = self.store()
        create(store)
        now = time.time()
        with store.transaction("inst-1", 1) as tx:
            tx.put_step(StepRecord("deploy", "running", 1, owner="host:1:2",
                                   lease_until=now + 60, started_at="2024-01-01T00:00:00Z"))
        step = store.load_step("inst-1", "deploy")
        assert step is not None and step.owner == "host:1:2"
        assert not step.lease_expired(now) and step.lease_expired(now + 61)

    def test_many_steps_then_fresh_load(self) -> None:
        a = self.store()
        create(a)
        for i in range(300):
            record_step(a, "inst-1", i)
        b = self.store()
        state = b.load_state("inst-1")
        assert len(state.steps) == 300 and state.variables["n"] == 299
        assert state == a.load_state("inst-1")
        assert b.load_status("inst-1") == a.load_status("inst-1")
        assert b.check("inst-1") == []

    def test_lost_history_is_found_and_recorded_never_renumbered(self) -> None:
        store = self.store()
        create(store)
        for i in range(1, 4):
            record_step(store, "inst-1", i)          # events 1..4, rev 4
        self.lose_last_event(store)
        fresh = self.store()
        lost = [p for p in fresh.check("inst-1") if p.kind == "lost-history"]
        assert len(lost) == 1, fresh.check("inst-1")
        assert lost[0].lossy and lost[0].repairable
        assert "seq 4" in lost[0].message and "chatflow repair inst-1" in lost[0].message
        report = fresh.repair("inst-1")
        assert report.ok and any("history_lost" in a for a in report.actions), report.actions
        assert fresh.check("inst-1") == []
        events = list(fresh.iter_history("inst-1"))
        assert [e.seq for e in events] == [1, 2, 3, 5]
        assert events[-1].type == "history_lost"
        assert events[-1].data["lost_seqs"] == [[4, 4]]
        st = fresh.load_status("inst-1")
        assert (st.rev, st.seq) == (5, 5)
        assert record_step(fresh, "inst-1", 9) == 6
        assert [e.seq for e in self.store().iter_history("inst-1")][-1] == 6
        # a sound instance next to it is untouched, and listings show both
        create(fresh, "inst-2")
        assert [s.instance_id for s in fresh.list_instances()] == ["inst-1", "inst-2"]
        assert fresh.inventory().damaged == {}

    def test_the_engine_runs_a_flow_on_the_store(self) -> None:
        from chatflow.runtime.api import WorkflowEngine, compile_flow

        flow = self.tmp / "t.flow"
        flow.write_text('flow t(n: int = 2) -> (m: int) {\n'
                        '  var v: int = 0\n'
                        '  step a: set v = n + 1\n'
                        '  step b after a: approve "go?"\n'
                        '  output m = v * 10\n}\n', encoding="utf-8")
        engine = WorkflowEngine(self.store(), workdir=str(self.tmp))
        iid = engine.start_workflow_instance(compile_flow(str(flow)),
                                             automation_level=50).instance_id
        assert engine.run_until_blocked(iid).status == "waiting_approval"
        engine.approve(iid, "b", "conformance")
        other = WorkflowEngine(self.store(), workdir=str(self.tmp))  # as another process
        assert other.resume(iid).status == "succeeded"
        assert other.status(iid).outputs == {"m": 30}
        types = [e.type for e in other.history(iid)]
        assert types[0] == "instance_started" and types[-1] == "instance_completed"
