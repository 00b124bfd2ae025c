"""Recording a step costs the same whatever was recorded before; SQL repair."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from chatflow.runtime.store import StateStore, open_store
from chatflow.testing.store_conformance import create, record_step


def test_per_step_cost_is_flat(store: StateStore) -> None:
    # CPU time of this process (not wall time): other processes competing for
    # the disk and the cores must not make the test flaky, while any work that
    # grows with the recorded steps (encoding, copying, rewriting) still shows.
    create(store)
    durations: list[float] = []
    for i in range(2000):
        t0 = time.process_time()
        record_step(store, "inst-1", i)
        durations.append(time.process_time() - t0)
    first = sum(sorted(durations[:200])[50:150]) / 100    # interquartile means
    last = sum(sorted(durations[-200:])[50:150]) / 100
    assert last < 3 * first, f"step cost grew: first {first * 1e6:.0f}us, last {last * 1e6:.0f}us"
    assert len(store.load_state("inst-1").steps) == 2000


def test_sqlite_garbage_status_row_is_repaired(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = open_store(url)
    create(store)
    record_step(store, "inst-1", 1)
    store.close()
    conn = sqlite3.connect(tmp_path / "state.db")
    conn.execute("UPDATE instances SET status_json = 'garbage{' WHERE instance_id = 'inst-1'")
    conn.commit()
    conn.close()
    store = open_store(url)
    [problem] = store.check("inst-1")
    assert problem.kind == "bad-status" and "state.db" in problem.path
    report = store.repair("inst-1")
    assert report.ok and report.actions
    st = store.load_status("inst-1")
    assert (st.rev, st.status, st.feature_id, st.seq) == (2, "running", "F-1", 2)
    assert store.check("inst-1") == []
    assert set(store.load_state("inst-1").steps) == {"s1"}
    store.close()


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_sound_instance_has_no_problems(kind: str, tmp_path: Path) -> None:
    url = f"file:{tmp_path}/.chatflow" if kind == "file" else f"sqlite:///{tmp_path}/s.db"
    store = open_store(url)
    create(store)
    record_step(store, "inst-1", 1)
    assert store.check("inst-1") == []
    report = store.repair("inst-1")
    assert report.problems == [] and report.actions == []
