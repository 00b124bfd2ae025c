"""The `shell` action and the process runner under it: capture, exit codes,
environment, timeouts and cancellation that kill the whole process group,
CPU time, and hostile interpolated values."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from chatflow.compiler.shell_holes import shell_action
from chatflow.runtime.actions import ActionContext, run_shell
from chatflow.runtime.actions.process import run_process
from chatflow.runtime.evaluator import EvalError, MapScope
from chatflow.runtime.shell_bindings import bind_shell


def make_ctx(tmp_path: Path, step: str = "s", timeout_s: float | None = None,
             env: dict[str, str] | None = None) -> ActionContext:
    return ActionContext(instance_id="inst-1", step=step, attempt=2, workdir=tmp_path,
                         task_dir=tmp_path / "tasks" / step, timeout_s=timeout_s,
                         env=env or {})


def process_gone(pid: int) -> bool:
    """Gone, or a zombie nobody reaped (in a container PID 1 may not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def test_captures_output_to_result_and_files(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    result = run_shell("echo out; echo err >&2", ctx)
    assert result.ok and result.error is None
    assert result.fields == {"ok": True, "exit_code": 0, "stdout": "out\n", "stderr": "err\n"}
    assert (ctx.task_dir / "stdout").read_text() == "out\n"
    assert (ctx.task_dir / "stderr").read_text() == "err\n"


def test_nonzero_exit_fails_with_code(tmp_path: Path) -> None:
    result = run_shell("echo partial; exit 3", make_ctx(tmp_path))
    assert not result.ok
    assert result.fields["exit_code"] == 3
    assert result.fields["ok"] is False
    assert result.fields["stdout"] == "partial\n"
    assert result.error == "command exited with code 3"


def test_command_not_found_is_127(tmp_path: Path) -> None:
    result = run_shell("definitely-not-a-command-xyz", make_ctx(tmp_path))
    assert result.fields["exit_code"] == 127
    assert "not found" in result.fields["stderr"]


def test_environment_and_workdir(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, env={"MY_VAR": "v 1"})
    result = run_shell(
        'printf "%s|%s|%s|%s|%s" "$CHATFLOW_INSTANCE_ID" "$CHATFLOW_STEP" '
        '"$CHATFLOW_ATTEMPT" "$MY_VAR" "$(pwd)"', ctx)
    assert result.fields["stdout"] == f"inst-1|s|2|v 1|{tmp_path}"
    assert "PATH" in os.environ  # the parent environment is inherited
    assert run_shell('test -n "$PATH"', ctx).ok


def test_stdin_is_empty(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_shell("cat", make_ctx(tmp_path))
    assert result.ok and result.fields["stdout"] == ""
    assert time.monotonic() - started < 5


def test_missing_workdir_fails_cleanly(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    ctx.workdir = tmp_path / "nope"
    result = run_shell("true", ctx)
    assert not result.ok
    assert result.error is not None and "does not exist" in result.error


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    result = run_shell(f"sleep 30 & echo $! > {pidfile}; wait", make_ctx(tmp_path, timeout_s=0.5))
    elapsed = time.monotonic() - started
    assert result.timed_out and not result.ok and not result.cancelled
    assert result.error is not None and "timed out after 0.5s" in result.error
    assert elapsed < 5
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while not process_gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_gone(child), "the shell's background child survived the timeout"


def test_timeout_escalates_to_sigkill(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    result = run_shell(f"trap '' TERM; sleep 30 & echo $! > {pidfile}; wait; sleep 30",
                       make_ctx(tmp_path, timeout_s=0.3))
    assert result.timed_out
    assert time.monotonic() - started < 6
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while not process_gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_gone(child)


def test_cancel_kills_promptly(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    timer = threading.Timer(0.3, ctx.cancel.set)
    timer.start()
    started = time.monotonic()
    result = run_shell("sleep 30", ctx)
    timer.join()
    assert result.cancelled and not result.ok and not result.timed_out
    assert result.error is not None and "cancelled" in result.error
    assert time.monotonic() - started < 3


def test_cpu_time_of_a_busy_child(tmp_path: Path) -> None:
    result = run_shell("i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done", make_ctx(tmp_path))
    assert result.ok
    assert result.cpu_s > 0.02


def test_large_output_is_cut_in_the_result_but_kept_in_the_file(tmp_path: Path) -> None:
    outcome = run_process(["/bin/sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x"],
                          cwd=tmp_path, env=dict(os.environ), out_dir=tmp_path / "t",
                          keep_bytes=100)
    assert outcome.exit_code == 0
    assert outcome.stdout.startswith("x" * 100 + "\n[chatflow: output cut at 100 of 5000 bytes")
    assert (tmp_path / "t" / "stdout").read_text() == "x" * 5000


def test_invalid_utf8_output_does_not_crash(tmp_path: Path) -> None:
    result = run_shell("printf '\\377\\376ok'", make_ctx(tmp_path))
    assert result.ok and result.fields["stdout"].endswith("ok")


CANARIES = ['x"; touch pwned; echo "', "$(touch pwned)", "a'b;`touch pwned`", "",
            "a\ntouch pwned\n"]


@pytest.mark.parametrize("value", CANARIES)
def test_hostile_value_reaches_the_command_as_one_argument(tmp_path: Path, value: str) -> None:
    """The command text is fixed; the value arrives in the environment."""
    action = shell_action({"op": "fmt", "args": [{"lit": "printf '<%s>\\n' "}, {"param": "v"}]})
    command, bindings = bind_shell(action, MapScope(params={"v": value}))
    assert command == "printf '<%s>\\n' \"${cf_v}\"" and bindings == {"cf_v": value}
    result = run_shell(command, make_ctx(tmp_path, env=bindings))
    assert result.ok
    assert result.fields["stdout"] == f"<{value}>\n"
    assert not (tmp_path / "pwned").exists()


def test_nul_byte_in_a_value_is_an_error_not_a_truncated_argument() -> None:
    action = shell_action({"op": "fmt", "args": [{"lit": "echo "}, {"param": "v"}]})
    with pytest.raises(EvalError, match="NUL byte"):
        bind_shell(action, MapScope(params={"v": "a\0b"}))


def test_nul_byte_in_command_fails_cleanly(tmp_path: Path) -> None:
    result = run_shell("echo a\0b", make_ctx(tmp_path))
    assert not result.ok
    assert result.error is not None and "null byte" in result.error
