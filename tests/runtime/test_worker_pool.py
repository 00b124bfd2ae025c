"""The `parallel` strategy's worker pool: workers are reused across steps,
a cancelled step's worker is killed and replaced, each step sees the
driver's current environment, and the JSON-lines worker answers in order."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from chatflow.compiler.api import compile_path
from chatflow.runtime.api import WorkflowEngine
from chatflow.runtime.step_actions import POOL, _Worker
from chatflow.runtime.store import open_store


def _run(tmp: Path, src: str) -> tuple[WorkflowEngine, str]:
    (tmp / "p.flow").write_text(src)
    res = compile_path(str(tmp / "p.flow"))
    assert res.ir is not None, res.diagnostics
    engine = WorkflowEngine(open_store(f"file:{tmp / 'state'}"), workdir=str(tmp))
    iid = engine.start_workflow_instance(res.ir).instance_id
    engine.run_until_blocked(iid)
    return engine, iid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _out(engine: WorkflowEngine, iid: str, step: str) -> Any:
    return engine.status(iid).steps[step].outputs.get("stdout", "").strip()


def test_workers_are_reused_across_steps(tmp_path: Path) -> None:
    engine, iid = _run(tmp_path, """\
flow p() {
  parallelism "parallel"
  step a: shell "echo $PPID"
  step b after a: shell "echo $PPID"
  step c after b: shell "echo $PPID"
}
""")
    assert engine.status(iid).status == "succeeded"
    pids = {_out(engine, iid, s) for s in "abc"}
    assert len(pids) == 1 and str(os.getpid()) not in pids, pids  # one worker, not us


def test_a_cancelled_steps_worker_is_killed_and_replaced(tmp_path: Path) -> None:
    engine, iid = _run(tmp_path, """\
flow p() {
  parallelism "parallel"
  parallel g {
    step slow: shell "echo $PPID > slow.pid; sleep 30"
    step bad: shell "while [ ! -s slow.pid ]; do sleep 0.01; done; exit 3"
  }
  step after_ after g: shell "echo $PPID" { continue_on_error }
}
""")
    st = engine.status(iid)
    assert st.steps["slow"].status == "cancelled" and st.steps["bad"].status == "failed"
    killed = int((tmp_path / "slow.pid").read_text())
    deadline = time.monotonic() + 30
    while _alive(killed) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(killed), "the cancelled step's worker is still running"
    assert _out(engine, iid, "after_") not in ("", str(killed))  # another worker ran it


def test_each_step_sees_the_drivers_current_environment(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    src = 'flow p() {\n  parallelism "parallel"\n  step a: shell "echo $CF_POOL_PROBE"\n}\n'
    for value in ("first", "second"):  # the second run reuses the first one's worker
        (tmp_path / value).mkdir()
        monkeypatch.setenv("CF_POOL_PROBE", value)
        engine, iid = _run(tmp_path / value, src)
        assert _out(engine, iid, "a") == value


def test_worker_answers_json_lines_in_order(tmp_path: Path) -> None:
    w = _Worker()
    try:
        for i in range(3):
            task = tmp_path / f"t{i}"
            ans = w.ask({"type": "shell", "rendered": {"command": f"echo {i}; exit {i}"},
                         "instance_id": "x", "step": f"s{i}", "attempt": 1,
                         "workdir": str(tmp_path), "task_dir": str(task),
                         "environ": dict(os.environ)}, threading.Event())
            assert ans is not None and ans["fields"]["exit_code"] == i
            assert ans["fields"]["stdout"] == f"{i}\n" and ans["ok"] is (i == 0)
        assert w.alive()
    finally:
        w.close()
    assert not w.alive()
    POOL.close()


def _ask_pid(w: _Worker, tmp: Path) -> int:
    ans = w.ask({"type": "shell", "rendered": {"command": "echo $PPID"}, "instance_id": "x",
                 "step": "s", "attempt": 1, "workdir": str(tmp), "task_dir": str(tmp / "t"),
                 "environ": dict(os.environ)}, threading.Event())
    assert ans is not None and ans["ok"], ans
    return int(ans["fields"]["stdout"])


def test_workers_are_forked_by_one_zygote_and_a_dead_zygote_is_replaced(tmp_path: Path) -> None:
    first, second = _Worker(), _Worker()
    try:
        assert first.proc is None and second.proc is None  # forked, not started
        assert _ask_pid(first, tmp_path) == first.pid and _ask_pid(second, tmp_path) == second.pid
        zygote = POOL._zygote
        assert zygote is not None
        zygote.proc.kill()
        zygote.proc.wait()
        third = _Worker()  # a new zygote forks it
        try:
            assert third.proc is None and _ask_pid(third, tmp_path) == third.pid
            assert POOL._zygote is not None and POOL._zygote is not zygote
        finally:
            third.close()
        standalone = _Worker(standalone=True)
        try:
            assert standalone.proc is not None and _ask_pid(standalone, tmp_path) == standalone.pid
        finally:
            standalone.close()
    finally:
        first.close()
        second.close()
        POOL.close()
    assert not first.alive()
