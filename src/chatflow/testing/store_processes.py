"""The `StateStore` conformance scenarios that need other processes: the
instance lock is exclusive across processes and dies with its holder,
concurrent committers lose nothing, and a store's cache notices what other
processes wrote. Mixed into `StoreConformance`, which supplies `store()`,
`child()` and `tmp`."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from chatflow.runtime.store import ConflictError, LockTimeout, StateStore
from chatflow.testing.store_records import create, raises, record_step

__all__ = ["CrossProcessScenarios"]


class CrossProcessScenarios:
    """Scenarios with child processes (each opens the scenario's URL)."""

    tmp: Path

    def store(self) -> StateStore:
        raise NotImplementedError

    def child(self, code: str, *args: str, wait: bool = True) -> subprocess.Popen[str]:
        raise NotImplementedError


    def test_lock_is_exclusive_across_processes(self) -> None:
        store = self.store()
        create(store)
        flag = self.tmp / "child-has-lock"
        child = self.child("""
            import sys, time, pathlib
            from chatflow.runtime.store import open_store
            s = open_store(sys.argv[1])
            with s.lock("inst-1", timeout=30):
                pathlib.Path(sys.argv[2]).write_text("1")
                time.sleep(1.5)
            """, str(flag), wait=False)
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert child.poll() is None, child.communicate()[1]
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with raises(LockTimeout, match="inst-1"), store.lock("inst-1", timeout=0.2):
            pass
        with store.lock("inst-1", timeout=60), store.lock("inst-1", timeout=0.1):
            pass                                      # re-entrant in one thread
        child.communicate(timeout=60)
        assert child.returncode == 0

    def test_lock_is_released_when_holder_is_killed(self) -> None:
        store = self.store()
        create(store)
        flag = self.tmp / "locked"
        child = self.child("""
            import sys, time, pathlib
            from chatflow.runtime.store import open_store
            s = open_store(sys.argv[1])
            with s.lock("inst-1"):
                pathlib.Path(sys.argv[2]).write_text("1")
                time.sleep(60)
            """, str(flag), wait=False)
        while not flag.exists():
            assert child.poll() is None, child.communicate()[1]
            time.sleep(0.02)
        child.kill()
        child.wait()
        with store.lock("inst-1", timeout=10):
            pass

    def test_concurrent_committers_lose_nothing(self) -> None:
        store = self.store()
        create(store)
        procs = [self.child("""
            import sys
            from chatflow.runtime.store import open_store, StepRecord
            s = open_store(sys.argv[1])
            for i in range(25):
                with s.transaction("inst-1") as tx:
                    name = f"p{sys.argv[2]}-{i}"
                    tx.put_step(StepRecord(name, "succeeded", 1))
                    tx.append("step_completed", step=name)
            """, str(n), wait=False) for n in range(4)]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        st = store.load_status("inst-1")
        assert st.rev == 1 + 4 * 25 and st.seq == 1 + 4 * 25
        events = list(store.iter_history("inst-1"))
        assert [e.seq for e in events] == list(range(1, 102))
        assert len(store.load_state("inst-1").steps) == 100

    def test_cache_notices_other_process_writes(self) -> None:
        store = self.store()
        create(store)
        record_step(store, "inst-1", 1)
        assert store.load_state("inst-1").rev == 2        # warm the cache
        self.child("""
            import sys
            from chatflow.runtime.store import open_store, StepRecord
            s = open_store(sys.argv[1])
            with s.transaction("inst-1", expected_rev=2) as tx:
                tx.put_step(StepRecord("s1", "failed", 2))
                tx.put_step(StepRecord("other", "succeeded", 1))
                tx.set_variables({"n": 42})
                tx.append("step_completed", step="other")
                tx.set_status(status="failed", error="boom")
            """)
        st = store.load_status("inst-1")
        assert (st.rev, st.status, st.error) == (3, "failed", "boom")
        state = store.load_state("inst-1")
        assert state.steps["s1"].status == "failed" and "other" in state.steps
        assert state.variables["n"] == 42
        with raises(ConflictError):
            record_step(store, "inst-1", 9, expected_rev=2)
