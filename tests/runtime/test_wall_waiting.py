"""Issue 7 item 7: time spent waiting for a person does not count against the
`wall` quota.

Unit tests of the arithmetic (`quota.wall_clock`, `pause_started`,
`pause_ended`), then the engine on every state-store backend: an approval
that takes longer than the whole `wall` quota, from a fresh store (nothing is
kept in memory between the wait and the decision), in a sub-flow, and held
in doubt after a crash; while work (a step running) still counts.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends import backend, store_url  # noqa: F401  (fixtures)
from chatflow.compiler.api import compile_path
from chatflow.runtime.api import WorkflowEngine
from chatflow.runtime.quota import (
    QuotaLimits,
    Spending,
    pause_ended,
    pause_started,
    quota_status,
    render_quota_table,
    wall_clock,
)
from chatflow.runtime.store import open_store
from chatflow.runtime.store.records import StepRecord

pytestmark = pytest.mark.slow  # real approvals after real sleeps: wall-clock timing

T0 = "2024-01-01T00:00:00Z"
EPOCH0 = 1704067200.0


# ---------------------------------------------------------------------------- arithmetic


def test_wall_clock_without_waits_is_elapsed_time() -> None:
    c = wall_clock(T0, now=EPOCH0 + 5)
    assert (c.wall_ms, c.waiting_ms, c.elapsed_ms) == (5000, 0, 5000)


def test_wall_clock_subtracts_closed_and_open_waits() -> None:
    waiting = {"ms": 2000, "since": "2024-01-01T00:00:07Z"}
    c = wall_clock(T0, now=EPOCH0 + 10, waiting=waiting)
    assert (c.wall_ms, c.waiting_ms, c.elapsed_ms) == (5000, 5000, 10000)
    # a finished instance: its end, not now
    c = wall_clock(T0, end=EPOCH0 + 8, waiting={"ms": 3000, "since": None}, now=EPOCH0 + 99)
    assert (c.wall_ms, c.waiting_ms) == (5000, 3000)


@pytest.mark.parametrize("junk", [None, "x", {"ms": "lots"}, {"ms": -5, "since": 3},
                                  {"since": "not a time"}])
def test_wall_clock_ignores_junk(junk: Any) -> None:
    c = wall_clock(T0, now=EPOCH0 + 1, waiting=junk)
    assert c.wall_ms + c.waiting_ms == c.elapsed_ms == 1000
    assert c.wall_ms >= 0 and c.waiting_ms >= 0


def test_pauses_open_once_and_close_into_the_total() -> None:
    opened = pause_started(None, "2024-01-01T00:00:01Z")
    assert opened == {"ms": 0, "since": "2024-01-01T00:00:01Z"}
    assert pause_started(opened, "2024-01-01T00:00:02Z") is None  # already open
    closed = pause_ended(opened, "2024-01-01T00:00:04.5Z")
    assert closed == {"ms": 3500, "since": None}
    assert pause_ended(closed, "2024-01-01T00:00:09Z") is None  # nothing open
    again = pause_ended(pause_started(closed, "2024-01-01T00:00:10Z"), "2024-01-01T00:00:11Z")
    assert again == {"ms": 4500, "since": None}


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)), max_size=8),
       st.integers(0, 10_000))
def test_waits_never_exceed_elapsed_time(gaps: list[tuple[int, int]], tail: int) -> None:
    """Alternate work and waits: wall + waiting == elapsed, waiting == the
    sum of the waits, whatever the sequence."""
    t = 0
    waiting: dict[str, Any] | None = None
    waited = 0
    for work, wait in gaps:
        t += work
        waiting = pause_started(waiting, _iso(t)) or waiting
        t += wait
        waiting = pause_ended(waiting, _iso(t)) or waiting
        waited += wait
    t += tail
    c = wall_clock(T0, now=EPOCH0 + t / 1000, waiting=waiting)
    assert c.waiting_ms == waited
    assert c.wall_ms + c.waiting_ms == c.elapsed_ms == t


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(EPOCH0 + ms // 1000)) + \
        f".{ms % 1000:03d}000Z"


def test_quota_status_and_table_show_the_waiting_time() -> None:
    lim = QuotaLimits(wall_ms=5000, steps=10)
    spent = Spending(wall_ms=1200, steps=2)
    assert quota_status(lim, spent, 7000) == {
        "wall_ms": {"limit": 5000, "spent": 1200, "waiting_ms": 7000},
        "steps": {"limit": 10, "spent": 2}}
    assert quota_status(QuotaLimits(steps=1), spent, 7000) == {"steps": {"limit": 1, "spent": 2}}
    row = next(r for r in render_quota_table(lim, spent, 7000).splitlines()
               if r.startswith("wall"))
    assert "1.2s" in row and "(+7s waiting for people, not counted)" in row
    assert "waiting" not in render_quota_table(lim, spent, 0)


# ---------------------------------------------------------------------------- the engine


@pytest.fixture()
def engine(store_url: str, tmp_path: Path,  # noqa: F811
           monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkflowEngine]:
    monkeypatch.chdir(tmp_path)
    store = open_store(store_url)
    eng = WorkflowEngine(store, workdir=str(tmp_path))
    yield eng
    store.close()


def compile_src(tmp: Path, src: str) -> dict[str, Any]:
    p = tmp / "t.flow"
    p.write_text(src, encoding="utf-8")
    res = compile_path(str(p), "t")
    assert res.ir is not None, [d.message for d in res.diagnostics]
    return res.ir


WAIT_S = 1.3
"""How long the "person" takes: longer than the whole `wall 1s` quota."""

GATED = """
flow t() -> (done: bool) {
  quota wall 1s
  step a: shell "echo a"
  step gate: approve "go?"
  step b: shell "echo b"
  output done = b.ok
}
"""


def test_a_slow_approval_does_not_spend_the_wall_quota(engine: WorkflowEngine,
                                                       tmp_path: Path,
                                                       store_url: str) -> None:  # noqa: F811
    iid = engine.start_workflow_instance(compile_src(tmp_path, GATED),
                                         automation_level=50).instance_id
    engine.run_until_blocked(iid)
    first = engine.status(iid)
    assert first.status == "waiting_approval"
    time.sleep(0.3)
    second = engine.status(iid)
    # the wall clock is stopped while the instance waits; the waiting time grows
    assert abs(second.quota["wall_ms"]["spent"] - first.quota["wall_ms"]["spent"]) <= 1
    assert second.waiting_ms >= first.waiting_ms + 250
    time.sleep(WAIT_S)
    # a new process (a fresh store and engine) decides and drives on: the
    # wait is derived from stored records, not from a timer in memory
    store = open_store(store_url)
    try:
        fresh = WorkflowEngine(store, workdir=str(tmp_path))
        fresh.approve(iid, "gate", by="ann")
        time.sleep(0.3)  # approved but not resumed yet: still a person's time
        fresh.resume(iid)
        info = fresh.status(iid)
    finally:
        store.close()
    assert info.status == "succeeded", info.error
    assert info.outputs == {"done": True}
    assert info.waiting_ms >= (WAIT_S + 0.6) * 1000
    wall = info.quota["wall_ms"]
    assert wall["spent"] < wall["limit"]
    assert wall["waiting_ms"] == info.waiting_ms
    assert not [e for e in engine.history(iid) if e.type == "quota_exceeded"]


def test_work_still_counts(engine: WorkflowEngine, tmp_path: Path) -> None:
    ir = compile_src(tmp_path, """
flow t() {
  quota wall 1s
  step slow: shell "sleep 3"
}
""")
    iid = engine.start_workflow_instance(ir, automation_level=50).instance_id
    t0 = time.monotonic()
    engine.run_until_blocked(iid)
    assert time.monotonic() - t0 < 2.9  # stopped by the watcher, not by the end of sleep
    info = engine.status(iid)
    assert info.status == "failed"
    assert info.waiting_ms == 0
    exceeded = [e for e in engine.history(iid) if e.type == "quota_exceeded"]
    assert exceeded and exceeded[0].data["quota"] == "wall"


def test_a_sub_flows_approval_pauses_the_parents_wall_clock(engine: WorkflowEngine,
                                                           tmp_path: Path) -> None:
    ir = compile_src(tmp_path, """
flow t() -> (shipped: bool) {
  quota wall 1s
  step staging: call child()
  output shipped = staging.ok
}
flow child() {
  quota wall 1s
  step checkout: approve "ship it?"
}
""")
    iid = engine.start_workflow_instance(ir, automation_level=50).instance_id
    engine.run_until_blocked(iid)
    child = engine.state(iid).children[0]
    assert engine.status(iid).status == "waiting_approval"
    time.sleep(WAIT_S)
    engine.approve(child, "checkout", by="ann")
    engine.resume(iid)
    for inst in (iid, child):
        info = engine.status(inst)
        assert info.status == "succeeded", (inst, info.error)
        assert info.waiting_ms >= WAIT_S * 1000
        assert info.quota["wall_ms"]["spent"] < 1000


def test_an_in_doubt_hold_is_a_wait_for_a_person(engine: WorkflowEngine,
                                                 tmp_path: Path) -> None:
    ir = compile_src(tmp_path, """
flow t() {
  quota wall 1s
  step s: shell "echo again"
}
""")
    iid = engine.start_workflow_instance(ir, automation_level=50).instance_id
    store = engine.engine.store
    dead = f"{socket.gethostname()}:999999:dead"  # the driver crashed while `s` ran
    with store.lock(iid):
        status = store.load_status(iid)
        with store.transaction(iid, expected_rev=status.rev) as tx:
            tx.put_step(StepRecord("s", "running", attempts=1, owner=dead,
                                   lease_until=time.time() + 3600))
            tx.append("step_started", step="s", data={"attempt": 1, "owner": dead})
            tx.set_status(current_steps=["s"])
    engine.resume(iid)
    info = engine.status(iid)
    assert info.status == "waiting_approval" and info.steps["s"].in_doubt
    time.sleep(WAIT_S)
    engine.approve(iid, "s", by="ann")
    engine.resume(iid)
    info = engine.status(iid)
    assert info.status == "succeeded", info.error
    assert info.waiting_ms >= WAIT_S * 1000
