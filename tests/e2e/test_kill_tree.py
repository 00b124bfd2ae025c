"""kill -9 of the `chatflow run` driver while sub-flows run in parallel, then
`chatflow resume`: the whole instance tree finishes, and no step of any
instance completed twice (checked from the histories)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from cli_helpers import chatflow_command, run_chatflow

FLOW = """
flow k() -> (names: str) {
  parallelism "concurrent"
  parallel g max 3 {
    step a: call w(name: "a")
    step b: call w(name: "b")
    step c: call w(name: "c")
  }
  step done: shell "echo done >> log"
  output names = a.name + b.name + c.name
}
flow w(name: str) -> (name: str) {
  step s1: shell "echo {name}1 >> log; sleep 0.3"
  step s2: shell "echo {name}2 >> log; sleep 0.3"
  step s3: shell "echo {name}3 >> log"
  output name = name
}
"""


def log_lines(tmp: Path) -> list[str]:
    log = tmp / "log"
    return log.read_text(encoding="utf-8").split() if log.exists() else []


@pytest.mark.parametrize("lines_before_kill", [1, 4])
def test_kill_driver_while_children_run_then_resume(tmp_path: Path,
                                                    lines_before_kill: int) -> None:
    (tmp_path / "k.flow").write_text(FLOW, encoding="utf-8")
    proc = subprocess.Popen([*chatflow_command(), "run", "k.flow"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while len(log_lines(tmp_path)) < lines_before_kill and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)  # the driver only: its steps' shells live on
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.8)  # let orphaned step shells finish writing

    rows = json.loads(run_chatflow("list", "--json", cwd=tmp_path).stdout)
    roots = [r for r in rows if r["parent_instance_id"] is None]
    assert len(roots) == 1
    root = roots[0]["instance_id"]
    assert roots[0]["status"] == "running"

    r = run_chatflow("resume", root, "--json", cwd=tmp_path, timeout=120)
    assert r.code == 0, r.output
    info = json.loads(r.stdout)
    assert info["status"] == "succeeded"
    assert info["outputs"] == {"names": "abc"}

    rows = json.loads(run_chatflow("list", "--json", cwd=tmp_path).stdout)
    children = [x for x in rows if x["parent_instance_id"] == root]
    assert len(children) == 3, rows
    assert all(x["status"] == "succeeded" for x in rows)
    for row in rows:
        out = run_chatflow("history", row["instance_id"], "--json", cwd=tmp_path).stdout
        events = [json.loads(line) for line in out.splitlines()]
        done = Counter(e["step"] for e in events
                       if e["type"] == "step_completed" and e["data"]["status"] == "succeeded")
        twice = {step: n for step, n in done.items() if n > 1}
        assert not twice, f"{row['instance_id']}: steps completed twice: {twice}"
        assert sum(1 for e in events if e["type"] == "instance_completed") == 1
    # every child step ran to completion at least once, `done` exactly once
    lines = log_lines(tmp_path)
    for name in "abc":
        for i in (1, 2, 3):
            assert f"{name}{i}" in lines
    assert lines.count("done") == 1
