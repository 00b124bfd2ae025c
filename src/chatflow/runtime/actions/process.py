"""Run one child process for a step: its own process group, output streamed
to files, timeout and cancellation that kill the whole group, CPU time.

The child writes straight into `<out_dir>/stdout` and `<out_dir>/stderr`
(so the files keep everything even if the engine dies); the result carries
at most `keep_bytes` of each, with a note when it was cut.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GRACE_S", "KEEP_BYTES", "ProcessOutcome", "kill_group", "run_process"]

KEEP_BYTES = 1 << 20
"""How much of stdout / stderr a result keeps in memory; the files keep all."""

GRACE_S = 1.0
"""Time between SIGTERM and SIGKILL when a step's process group is killed."""

_POLL_S = 0.05


@dataclass
class ProcessOutcome:
    exit_code: int | None          # None when the process could not start
    stdout: str
    stderr: str
    timed_out: bool = False
    cancelled: bool = False
    cpu_s: float = 0.0
    start_error: str | None = None  # why it could not start


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    out_dir: Path,
    stdin_data: bytes | None = None,
    timeout_s: float | None = None,
    cancel: threading.Event | None = None,
    keep_bytes: int = KEEP_BYTES,
    grace_s: float = GRACE_S,
) -> ProcessOutcome:
    """Run `argv` to completion, timeout or cancellation.

    A signalled exit is reported as 128 + signal number, as shells do."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = out_dir / "stdout", out_dir / "stderr"
    if not cwd.is_dir():
        return ProcessOutcome(None, "", "", start_error=f"working directory {cwd} does not exist")
    # Kept open for reading the outputs back once the child has exited.
    out_fd = os.open(out_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        err_fd = os.open(err_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    except BaseException:
        os.close(out_fd)
        raise
    try:
        return _run(argv, cwd, env, stdin_data, out_fd, err_fd, timeout_s, cancel, grace_s,
                    lambda fd, path: _read_kept(fd, path, keep_bytes), out_path, err_path)
    finally:
        os.close(out_fd)
        os.close(err_fd)


def _run(argv: Sequence[str], cwd: Path, env: dict[str, str], stdin_data: bytes | None,
         out_fd: int, err_fd: int, timeout_s: float | None, cancel: threading.Event | None,
         grace_s: float, read: Callable[[int, Path], str], out_path: Path,
         err_path: Path) -> ProcessOutcome:
    try:
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=env,
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=out_fd, stderr=err_fd, start_new_session=True, close_fds=True,
        )
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in argv or env
        return ProcessOutcome(None, "", "", start_error=f"cannot start {argv[0]}: {exc}")
    child = _Child(proc.pid)
    try:
        if stdin_data is not None:
            _feed_stdin(proc, stdin_data)
        timed_out = cancelled = False
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not child.wait(_POLL_S):
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                break
        if timed_out or cancelled:
            kill_group(proc.pid, child.exited, grace_s)
            child.wait(None)
    except BaseException:   # Ctrl-C in the waiting thread: the group dies with it
        kill_group(proc.pid, child.exited, grace_s)
        child.wait(None)
        raise
    finally:
        child.close()
        # We called wait4 ourselves; tell Popen so it never waits again.
        proc.returncode = child.exit_code if child.exit_code is not None else -1
    return ProcessOutcome(
        exit_code=child.exit_code,
        stdout=read(out_fd, out_path),
        stderr=read(err_fd, err_path),
        timed_out=timed_out,
        cancelled=cancelled,
        cpu_s=child.cpu_s,
    )


def kill_group(pgid: int, leader_done: Callable[[], bool], grace_s: float = GRACE_S) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after `grace_s`."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if leader_done() and not _group_alive(pgid):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is left in the group. Zombies count
    as gone: in a container nobody may reap the orphans, and they hold nothing."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


class _Child:
    """Waits for the child in the calling thread (no thread per step): poll
    on a pidfd, then wait4, which also gives its CPU time (including the
    grandchildren it waited for).  Without pidfds, wait4(WNOHANG) polling."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exit_code: int | None = None
        self.cpu_s = 0.0
        self.done = False
        self.pidfd: int | None
        self.poller: select.poll | None = None
        try:
            self.pidfd = os.pidfd_open(pid)
            self.poller = select.poll()
            self.poller.register(self.pidfd, select.POLLIN)
        except (AttributeError, OSError):
            self.pidfd = None

    def _reap(self) -> bool:
        try:
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
        except ChildProcessError:
            self.done = True
            return True
        if pid == 0:
            return False
        code = os.waitstatus_to_exitcode(status)
        self.exit_code = 128 - code if code < 0 else code
        self.cpu_s = usage.ru_utime + usage.ru_stime
        self.done = True
        return True

    def exited(self) -> bool:
        return self.done or self._reap()

    def wait(self, timeout: float | None) -> bool:
        """Whether the child has exited (and was reaped) within `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.0005
        while not self.exited():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            if self.poller is not None:
                self.poller.poll(None if left is None else max(1, int(left * 1000 + 0.999)))
            else:
                time.sleep(pause if left is None else min(pause, left))
                pause = min(pause * 2, _POLL_S)
        return True

    def close(self) -> None:
        if self.pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self.pidfd)
            self.pidfd = None


def _feed_stdin(proc: subprocess.Popen[bytes], data: bytes) -> None:
    """Write stdin from a thread so a child that never reads cannot block us."""
    stdin = proc.stdin
    assert stdin is not None

    def feed() -> None:
        try:
            stdin.write(data)
        except (BrokenPipeError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    threading.Thread(target=feed, name=f"chatflow-stdin-{proc.pid}", daemon=True).start()


def _read_kept(fd: int, path: Path, keep_bytes: int) -> str:
    """The first `keep_bytes` the child wrote to `fd` (the file at `path`)."""
    try:
        size = os.fstat(fd).st_size
        data = os.pread(fd, min(size, keep_bytes), 0) if size else b""
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    if size > keep_bytes:
        text += (f"\n[chatflow: output cut at {keep_bytes} of {size} bytes; "
                 f"all of it is in {path}]\n")
    return text
