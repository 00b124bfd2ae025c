"""The driver's side of the `parallel` strategy's worker processes: a pool
of `runtime/worker.py` processes, each a JSON line in, a JSON line out.

Workers are forked by a zygote (`python -m chatflow.runtime.worker
--zygote`), one single-threaded process per driver that has imported the
worker code once: a new worker costs a fork (a few ms), not an interpreter
start (80 ms of CPU, times the width of the group on a 2-core machine). The
driver hands the zygote one end of a fresh socket pair (and the file its
stderr goes to) over a Unix socket; the zygote forks, the child serves on
that socket, and the zygote answers with the child's pid. When the zygote
cannot be started or stops answering, a worker is started as its own
process, as before. Workers are reused across steps; a cancelled or broken
one is killed and never reused.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import IO, Any

_KILL_GRACE_S = 5.0
_POLL_S = 0.05
_ZYGOTE_ANSWER_S = 10.0
MAX_IDLE_WORKERS = 32
"""Idle workers kept for reuse (more are closed when they come back)."""

_WORKER_CMD = [sys.executable, "-m", "chatflow.runtime.worker"]


class _Zygote:
    """The process that forks workers (see the module docstring)."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # its workers write their stderr to files of their own; a zygote
            # that fails is replaced by standalone workers, which report why
            self.proc = subprocess.Popen([*_WORKER_CMD, "--zygote"], stdin=theirs.fileno(),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         close_fds=True)
        finally:
            theirs.close()
        self.chan = ours
        self.buf = bytearray()

    def fork(self, errors: int) -> tuple[int, socket.socket] | None:
        """A new worker: its pid and the driver's end of its socket (None: the
        zygote is gone or did not answer in time)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(self.chan, [b"F"], [theirs.fileno(), errors])
            line = self._line()
        except OSError:
            line = None
        finally:
            theirs.close()
        if line is None or not line.isdigit():
            ours.close()
            return None
        return int(line), ours

    def _line(self) -> bytes | None:
        deadline = time.monotonic() + _ZYGOTE_ANSWER_S
        fd = self.chan.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            self.buf.extend(chunk)
        i = self.buf.index(b"\n")
        line = bytes(self.buf[:i])
        del self.buf[: i + 1]
        return line

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.chan.close()
        with contextlib.suppress(Exception):
            self.proc.kill()
            self.proc.wait(timeout=10)


class _Worker:
    """One worker process: forked by the pool's zygote when there is one (see
    `WorkerPool.zygote`), else started as `python -m chatflow.runtime.worker`."""

    def __init__(self, standalone: bool = False) -> None:
        # its stderr, read when it fails; closed in close()
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115
        self.buf = bytearray()
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self.closed = False
        forked = None if standalone else POOL.fork_worker(self.errors.fileno())
        if forked is not None:
            self.pid, self.sock = forked
            self._rfd = self._wfd = self.sock.fileno()
        else:
            self.proc = subprocess.Popen(_WORKER_CMD, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self.errors,
                                         close_fds=True)
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.pid = self.proc.pid
            self._rfd, self._wfd = self.proc.stdout.fileno(), self.proc.stdin.fileno()

    def running(self) -> bool:
        """Whether its process is still there."""
        if self.closed:
            return False
        if self.proc is not None:
            return self.proc.poll() is None
        return not _gone(self.pid)

    def alive(self) -> bool:
        """Whether an idle worker can take a request: running, and (as an idle
        worker never writes) nothing to read, which would be end of input."""
        if not self.running():
            return False
        return self.proc is not None \
            or not (not self.buf and select.select([self._rfd], [], [], 0)[0])

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    def ask(self, request: dict[str, Any], cancel: threading.Event) -> dict[str, Any] | None:
        """Send one request and wait for its answer (None: the worker died or
        was killed). Setting `cancel` sends SIGTERM (the worker cancels its
        action, which kills its process group), then SIGKILL after a grace
        period."""
        try:
            data = json.dumps(request).encode("utf-8") + b"\n"
            while data:
                data = data[os.write(self._wfd, data):]
        except OSError:
            return None
        killed_at: float | None = None
        while b"\n" not in self.buf:
            ready, _, _ = select.select([self._rfd], [], [], _POLL_S)
            if ready:
                try:
                    chunk = os.read(self._rfd, 65536)
                except OSError:
                    return None
                if not chunk:
                    return None
                self.buf.extend(chunk)
                continue
            if cancel.is_set() and self.running():
                now = time.monotonic()
                if killed_at is None:
                    killed_at = now
                    self.signal(signal.SIGTERM)
                elif now - killed_at > _KILL_GRACE_S:
                    self.signal(signal.SIGKILL)
            elif not self.running() and not select.select([self._rfd], [], [], 0)[0]:
                return None
        i = self.buf.index(b"\n")
        line = bytes(self.buf[:i])
        del self.buf[: i + 1]
        try:
            answer = json.loads(line)
        except ValueError:
            return None
        return answer if isinstance(answer, dict) else None

    def stderr_tail(self) -> str:
        try:
            self.errors.seek(0)
            return self.errors.read().decode("utf-8", "replace").strip()[-500:]
        except (OSError, ValueError):
            return ""

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, sig)

    def close(self) -> None:
        """Kill the worker and reap it (a cancelled or broken one)."""
        if self.closed:
            return
        if self.running():
            self.signal(signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=10)
        else:  # the zygote reaps it; wait until it is gone
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not _gone(self.pid):
                time.sleep(0.002)
        self.closed = True
        files: list[IO[bytes] | socket.socket | None] = [self.sock, self.errors]
        if self.proc is not None:
            files += [self.proc.stdin, self.proc.stdout]
        for f in files:
            with contextlib.suppress(Exception):
                if f is not None:
                    f.close()


def _gone(pid: int) -> bool:
    """Whether a forked worker has exited (a zombie counts as gone: once the
    zygote is gone, nobody may reap its orphans)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[:1] == [b"Z"]
    except OSError:
        return False


class WorkerPool:
    """The driver process's worker processes: started lazily (a group that
    runs N steps at once ends up with N), reused across steps and engines,
    killed and replaced after a cancelled step. Workers get the driver's
    environment with each request, so reuse never changes what a step sees."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zlock = threading.Lock()
        self._idle: list[_Worker] = []
        self._starting = 0
        self._pid = os.getpid()
        self._zygote: _Zygote | None = None
        self._zygote_pid = 0

    def _ensure_zygote(self) -> _Zygote | None:
        with self._zlock:
            return self._zygote_locked()

    def _zygote_locked(self) -> _Zygote | None:
        z = self._zygote
        if z is None or self._zygote_pid != os.getpid() or z.proc.poll() is not None:
            try:
                z = self._zygote = _Zygote()
            except OSError:
                self._zygote = None
                return None
            self._zygote_pid = os.getpid()
        return z

    def fork_worker(self, errors: int) -> tuple[int, socket.socket] | None:
        """A worker forked by this process's zygote (started on first use;
        one that does not answer is replaced next time): its pid and socket,
        or None when there is no working zygote."""
        with self._zlock:  # one request at a time on the zygote's socket
            z = self._zygote_locked()
            if z is None:
                return None
            forked = z.fork(errors)
            if forked is None:
                self._zygote = None
                z.close()
            return forked

    def acquire(self) -> _Worker:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's workers are not ours
                self._idle = []
                self._pid = os.getpid()
            while self._idle:
                w = self._idle.pop()
                if w.alive():
                    return w
                w.close()
        return _Worker()

    def release(self, worker: _Worker) -> None:
        with self._lock:
            if worker.alive() and len(self._idle) < MAX_IDLE_WORKERS \
                    and self._pid == os.getpid():
                self._idle.append(worker)
                return
        worker.close()

    def prestart(self, count: int) -> None:
        """Get ready to run `count` steps at once: start the zygote now (in the
        background, so its start-up overlaps the driver's claims and commits);
        each worker is forked when a step asks for one, a few ms. Without a
        zygote, start `count` workers."""
        with self._lock:
            missing = count - len(self._idle) - self._starting
            if missing <= 0:
                return
            self._starting += missing

        def spawn() -> None:
            if self._ensure_zygote() is not None:
                with self._lock:
                    self._starting -= missing
                return
            for _ in range(missing):
                try:
                    w: _Worker | None = _Worker(standalone=True)
                except OSError:
                    w = None
                with self._lock:
                    self._starting -= 1
                if w is not None:
                    self.release(w)

        threading.Thread(target=spawn, daemon=True, name="chatflow-prestart").start()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for w in idle:
            w.close()
        with self._zlock:
            z, self._zygote = self._zygote, None
        if z is not None and self._zygote_pid == os.getpid():
            z.close()


POOL = WorkerPool()
