"""`chatflow run` stopped by SIGTERM or Ctrl-C while steps run: the steps'
process groups die with it, the interruption is recorded, `resume` goes on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_helpers import chatflow_command
from contract_helpers import cf, sandbox_env, write

from installed_cli import with_default_sigint

FLOW = """\
flow slow() {{
  parallelism "{mode}"
  step a: shell "echo a >> log.txt"
  parallel p {{
    step b: shell "echo b-start >> log.txt; sleep 1.5; echo b-end >> log.txt"
    step b2: shell "echo b2-start >> log.txt; sleep 1.5; echo b2-end >> log.txt"
  }}
  step c after p: shell "echo c >> log.txt"
}}
"""


def _wait_for(pred: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


@pytest.mark.parametrize(("mode", "sig"), [("sequential", signal.SIGTERM),
                                           ("concurrent", signal.SIGINT),
                                           ("parallel", signal.SIGTERM)])
def test_signal_kills_running_steps_and_resume_finishes(tmp_path: Path, mode: str,
                                                        sig: int) -> None:
    write(tmp_path, "slow.flow", FLOW.format(mode=mode))
    log = tmp_path / "log.txt"
    proc = subprocess.Popen(with_default_sigint([*chatflow_command(), "run", "slow.flow"]),
                            cwd=tmp_path,
                            env=sandbox_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    started = "b2-start" if mode != "sequential" else "b-start"
    _wait_for(lambda: log.exists() and started in log.read_text())
    os.kill(proc.pid, sig)  # the driver only: its steps run in their own groups
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "chatflow resume" in err, err
    time.sleep(2.0)  # longer than the steps' sleep: a survivor would write `-end`
    assert "-end" not in log.read_text(), log.read_text()
    (inst,) = cf(tmp_path, "list", "--json").json()
    iid = inst["instance_id"]
    hist = [json.loads(line) for line in
            cf(tmp_path, "history", iid, "--json").stdout.splitlines()]
    interrupted = [e for e in hist if e["type"] == "step_interrupted"]
    assert interrupted and all(e["data"]["action"] == "rerun" for e in interrupted), hist
    r = cf(tmp_path, "resume", iid, "--json")
    assert r.code == 0 and r.json()["status"] == "succeeded", r.output
    lines = log.read_text().split()
    assert lines.count("a") == 1 and lines.count("c") == 1
    assert "b-end" in lines and (mode == "sequential" or "b2-end" in lines)
