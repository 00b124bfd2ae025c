"""Fault tests: SIGKILL at random points, concurrent drivers, damaged files.

A completed step is never run again after a crash, every step has exactly one
`step_completed` event, 8 processes resuming one instance run each step once,
and damaged status/history files are reported and repaired without losing a
completed step.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chatflow.compiler.api import compile_path
from chatflow.runtime.api import WorkflowEngine
from chatflow.runtime.store import open_store
from installed_cli import chatflow_command

DRIVER = Path(__file__).with_name("fault_driver.py")

KILL_FLOW = """
flow k() -> (total: int) {
  var n: int = 0
  step a: shell "echo a >> log; sleep 0.02"
  step b: set n = n + 1
  parallel g {
    step c: shell "echo c >> log; sleep 0.02"
    step d: set n = n + 10
  }
  step e: shell "echo e >> log" { retry 1 }
  step f: set n = n + 100
  output total = n
}
"""


def _compile(tmp: Path, src: str) -> dict[str, Any]:
    p = tmp / "k.flow"
    p.write_text(src)
    res = compile_path(str(p))
    assert res.ir is not None, res.diagnostics
    return res.ir


def _url(kind: str, tmp: Path) -> str:
    return f"file:{tmp / 'state'}" if kind == "file" else f"sqlite:///{tmp / 'state.db'}"


def _spawn(url: str, iid: str, tmp: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(DRIVER), url, iid, str(tmp)], cwd=tmp,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_after_ready(proc: subprocess.Popen[bytes], delay: float) -> None:
    """Wait until the driver has imported everything, then SIGKILL it after
    `delay` seconds (so the kill lands inside the run, not in the imports)."""
    assert proc.stdout is not None
    proc.stdout.readline()
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _log_lines(tmp: Path) -> int:
    try:
        return len((tmp / "log").read_text().split())
    except FileNotFoundError:
        return 0


def _kill_at_lines(proc: subprocess.Popen[bytes], tmp: Path, lines: int,
                   timeout: float = 120.0) -> None:
    """SIGKILL the driver as soon as the log has `lines` lines (polled every
    5 ms); a generous timeout, as CI runs on a loaded 2-core machine."""
    deadline = time.monotonic() + timeout
    while _log_lines(tmp) < lines:
        if proc.poll() is not None:
            _out, err = proc.communicate()
            raise AssertionError(f"the driver ended before the kill point: {err.decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError("the kill point was not reached in time")
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _completed_counts(engine: WorkflowEngine, iid: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ev in engine.history(iid):
        if ev.type == "step_completed" and ev.step:
            counts[ev.step] = counts.get(ev.step, 0) + 1
    return counts


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume(tmp_path: Path) -> None:
    ir = _compile(tmp_path, KILL_FLOW)
    rng = random.Random(20240501)
    trials = 50
    progressed = 0
    for trial in range(trials):
        kind = "file" if trial % 2 == 0 else "sqlite"
        tmp = tmp_path / f"t{trial}"
        tmp.mkdir()
        url = _url(kind, tmp)
        store = open_store(url)
        engine = WorkflowEngine(store, workdir=str(tmp))
        iid = engine.start_workflow_instance(ir).instance_id
        _kill_after_ready(_spawn(url, iid, tmp), rng.uniform(0.0, 0.25))
        if trial % 5 == 0:  # a second crash on some trials
            _kill_after_ready(_spawn(url, iid, tmp), rng.uniform(0.0, 0.15))
        progressed += _count(open_store(url), iid, "step_completed") > 0
        fresh = WorkflowEngine(open_store(url), workdir=str(tmp))
        result = fresh.resume(iid)
        info = fresh.status(iid)
        assert result.status == "succeeded", (trial, kind, info.to_dict())
        assert info.outputs == {"total": 111}, (trial, kind)
        counts = _completed_counts(fresh, iid)
        assert counts == {s: 1 for s in ("a", "b", "c", "d", "e", "f")}, (trial, kind, counts)
        assert sum(1 for e in fresh.history(iid) if e.type == "instance_completed") == 1
        fresh.store.close()
        store.close()
    # the kills really landed inside runs, not only before or after them
    assert progressed >= trials // 3, progressed


def _count(store: Any, iid: str, etype: str) -> int:
    try:
        return sum(1 for e in store.iter_history(iid) if e.type == etype)
    finally:
        store.close()


@pytest.mark.slow
def test_eight_processes_resuming_run_each_step_once(tmp_path: Path) -> None:
    body = "\n".join(f'  step s{i}: shell "echo s{i} >> log"' for i in range(12))
    ir = _compile(tmp_path, f"flow k() {{\n{body}\n}}\n")
    for kind in ("file", "sqlite"):
        tmp = tmp_path / kind
        tmp.mkdir()
        url = _url(kind, tmp)
        engine = WorkflowEngine(open_store(url), workdir=str(tmp))
        iid = engine.start_workflow_instance(ir).instance_id
        procs = [_spawn(url, iid, tmp) for _ in range(8)]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err.decode()
        lines = (tmp / "log").read_text().split()
        assert sorted(lines) == sorted(f"s{i}" for i in range(12)), lines
        assert _completed_counts(engine, iid) == {f"s{i}": 1 for i in range(12)}
        assert engine.status(iid).status == "succeeded"


def test_damaged_history_and_status_are_reported_and_repaired(tmp_path: Path) -> None:
    ir = _compile(tmp_path, KILL_FLOW)
    url = f"file:{tmp_path / 'state'}"
    store = open_store(url)
    engine = WorkflowEngine(store, workdir=str(tmp_path))
    iid = engine.start_workflow_instance(ir).instance_id
    # run part of it, so there is a half-finished instance
    engine.trigger_next_step(iid)
    engine.trigger_next_step(iid)
    done_before = {n for n, s in engine.status(iid).steps.items() if s.status == "succeeded"}
    assert done_before >= {"a", "b"}
    store.close()
    root = tmp_path / "state" / "instances"
    hist = root / iid / "history.ndjson"
    data = hist.read_bytes()
    hist.write_bytes(data + b'{"seq": 999, "type": "step_comp')  # a torn append
    (root / f"{iid}.json").write_text("garbage{{{")
    store2 = open_store(url)
    problems = store2.check(iid)
    assert problems, "damage not reported"
    text = "\n".join(str(p) for p in problems)
    assert "history" in text or iid in text
    report = store2.repair(iid)
    assert report.ok, report
    engine2 = WorkflowEngine(store2, workdir=str(tmp_path))
    after = engine2.status(iid)
    assert {n for n, s in after.steps.items() if s.status == "succeeded"} >= done_before
    engine2.resume(iid)
    final = engine2.status(iid)
    assert final.status == "succeeded" and final.outputs == {"total": 111}
    counts = _completed_counts(engine2, iid)
    assert counts == {s: 1 for s in ("a", "b", "c", "d", "e", "f")}, counts
    json.dumps(final.to_dict())


def test_cli_reports_damage_without_traceback(tmp_path: Path) -> None:
    ir = _compile(tmp_path, KILL_FLOW)
    url = f"file:{tmp_path / 'state'}"
    engine = WorkflowEngine(open_store(url), workdir=str(tmp_path))
    iid = engine.start_workflow_instance(ir).instance_id
    engine.store.close()
    (tmp_path / "state" / "instances" / f"{iid}.json").write_text("garbage")
    exe = chatflow_command()
    r = subprocess.run([*exe, "status", iid, "--state", url], cwd=tmp_path,
                       capture_output=True, text=True, env={**os.environ}, check=False)
    assert "Traceback" not in r.stderr
    assert r.returncode in (0, 1, 2)
    r = subprocess.run([*exe, "repair", iid, "--state", url], cwd=tmp_path,
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*exe, "status", iid, "--state", url, "--json"], cwd=tmp_path,
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["instance_id"] == iid


FANOUT_FLOW = """
flow k() -> (total: int) {
  parallelism "PARALLELISM"
  parallel fan max 4 {
    step a: call child(name: "a")
    step b: call child(name: "b")
    step c: call child(name: "c")
    step d: call child(name: "d")
  }
  step done: shell "echo root-done >> log"
  output total = a.n + b.n + c.n + d.n
}
flow child(name: str) -> (n: int) {
  step s1: shell "echo {name}-s1 >> log; sleep 0.05"
  step s2: shell "echo {name}-s2 >> log; sleep 0.1"
  step s3: shell "echo {name}-s3 >> log"
  output n = 3
}
"""


def _tree(engine: WorkflowEngine, root: str) -> list[str]:
    out, todo = [], [root]
    while todo:
        iid = todo.pop(0)
        out.append(iid)
        todo.extend(c for c in engine.state(iid).children if engine.store.exists(c))
    return out


def _completed_steps(url: str, root: str, tmp: Path) -> set[tuple[str, str]]:
    """(flow, step) of every step_completed in the tree, read from the histories."""
    engine = WorkflowEngine(open_store(url), workdir=str(tmp))
    done: set[tuple[str, str]] = set()
    for iid in _tree(engine, root):
        name = engine.status(iid).flow
        arg = engine.state(iid).inputs.get("name", "root")
        for ev in engine.history(iid):
            if ev.type == "step_completed" and ev.step and ev.data.get("status") == "succeeded":
                done.add((f"{name}:{arg}", ev.step))
    engine.store.close()
    return done


@pytest.mark.slow
@pytest.mark.parametrize("parallelism", ["concurrent", "parallel"])
def test_kill_during_parallel_children(tmp_path: Path, parallelism: str) -> None:
    """kill -9 of the driver while four children run in parallel, then
    `resume`: the whole tree finishes, every step of every instance has
    exactly one `step_completed`, and no step that had completed before the
    kill ran again (its line is in the log once)."""
    ir = _compile(tmp_path, FANOUT_FLOW.replace("PARALLELISM", parallelism))
    rng = random.Random(4242 if parallelism == "concurrent" else 4343)
    interrupted_children = 0
    for trial in range(4):
        kind = "file" if trial % 2 == 0 else "sqlite"
        tmp = tmp_path / f"t{trial}"
        tmp.mkdir()
        url = _url(kind, tmp)
        engine = WorkflowEngine(open_store(url), workdir=str(tmp))
        root = engine.start_workflow_instance(ir).instance_id
        engine.store.close()
        # kill once k child step lines are in the log (k <= 8 of 12: some
        # child is still running), however slow the machine is
        k = rng.randint(1, 8)
        _kill_at_lines(_spawn(url, root, tmp), tmp, k)
        before = _completed_steps(url, root, tmp)
        fresh = WorkflowEngine(open_store(url), workdir=str(tmp))
        states_at_kill = {fresh.status(i).status for i in _tree(fresh, root)[1:]}
        interrupted_children += "running" in states_at_kill
        result = fresh.resume(root)
        assert result.status == "succeeded", (trial, fresh.status(root).to_dict())
        assert fresh.status(root).outputs == {"total": 12}
        ids = _tree(fresh, root)
        assert len(ids) == 5, ids  # no second child was started for a call step
        for iid in ids:
            assert fresh.status(iid).status == "succeeded", (trial, iid)
            counts = _completed_counts(fresh, iid)
            assert set(counts.values()) == {1}, (trial, iid, counts)
        lines = (tmp / "log").read_text().split()
        for name in "abcd":
            for step in ("s1", "s2", "s3"):
                n = lines.count(f"{name}-{step}")
                assert n >= 1, (trial, name, step)
                if (f"child:{name}", step) in before:
                    assert n == 1, (trial, name, step, "a completed step ran again")
        assert lines.count("root-done") >= 1
        if ("k:root", "done") in before:
            assert lines.count("root-done") == 1
        fresh.store.close()
    assert interrupted_children >= 1, "no kill landed while children were running"
