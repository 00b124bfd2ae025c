"""A worker process of the `parallel` strategy: run step actions, one at a time.

    python -m chatflow.runtime.worker           (JSON lines in, JSON lines out)
    python -m chatflow.runtime.worker --zygote  (forks workers; see below)

Each request (one JSON line on stdin) holds the action type, the values the
engine already rendered and the driver's environment; each answer (one JSON
line on stdout) is the `ActionResult`. The driver keeps a few of these
processes and reuses them across steps (`step_actions.WorkerPool`). The
worker never touches the state store: claiming and committing stay in the
driver. SIGTERM, or the driver's death (the parent pid changes), cancels the
running action (which kills its process group); a cancelled worker answers
and exits, it is never reused. End of input, or `IDLE_S` without a request,
ends the worker.

With `--zygote` the process imports the worker code once and then forks a
worker for each request on its stdin, a Unix socket: one byte with two file
descriptors (the worker's socket, used as its stdin and stdout, and its
stderr); it answers with the new worker's pid on a line. It stays
single-threaded (so forking is safe), ignores SIGINT (Ctrl-C is the
driver's and the workers' to handle), lets the kernel reap its children,
and exits at the end of its input (the driver closed it or died).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
import threading
from types import FrameType
from typing import Any

IDLE_S = 300.0
"""An idle worker exits after this long without a request."""


class _Current:
    """The cancel event of the request being run (None while idle)."""

    def __init__(self) -> None:
        self.cancel: threading.Event | None = None


def _watch_parent(parent: int, current: _Current) -> None:
    while True:
        threading.Event().wait(0.2)
        if os.getppid() != parent:
            cancel = current.cancel
            if cancel is None:
                os._exit(0)  # idle and orphaned
            cancel.set()
            return


def _read_line(fd: int, buf: bytearray) -> bytes | None:
    """One line from `fd` (None at end of input or after IDLE_S idle)."""
    while b"\n" not in buf:
        ready, _, _ = select.select([fd], [], [], IDLE_S)
        if not ready:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        buf.extend(chunk)
    i = buf.index(b"\n")
    line = bytes(buf[:i])
    del buf[: i + 1]
    return line


def serve() -> int:
    current = _Current()

    def on_term(signum: int, frame: FrameType | None) -> None:
        cancel = current.cancel
        if cancel is None:
            raise SystemExit(0)
        cancel.set()

    signal.signal(signal.SIGTERM, on_term)
    threading.Thread(target=_watch_parent, args=(os.getppid(), current), daemon=True).start()
    from chatflow.runtime.step_actions import make_context, run_local

    fd = sys.stdin.fileno()
    buf = bytearray()
    while True:
        line = _read_line(fd, buf)
        if line is None:
            return 0
        if not line.strip():
            continue
        request: dict[str, Any] = json.loads(line)
        cancel = threading.Event()
        environ = request.get("environ")
        if isinstance(environ, dict):  # the driver's environment, as of this step
            os.environ.clear()
            os.environ.update({str(k): str(v) for k, v in environ.items()})
        current.cancel = cancel
        try:
            ctx = make_context(str(request["instance_id"]), str(request["step"]),
                               int(request["attempt"]), dict(request["rendered"]),
                               str(request["workdir"]), str(request["task_dir"]), cancel)
            res = run_local(str(request["type"]), dict(request["rendered"]), ctx, None)
            answer: dict[str, Any] = {
                "ok": res.ok, "fields": res.fields, "error": res.error, "tokens": res.tokens,
                "cpu_s": res.cpu_s, "timed_out": res.timed_out, "cancelled": res.cancelled}
        except Exception as exc:  # an action bug: this step fails, the worker goes on
            answer = {"ok": False, "fields": {"ok": False},
                      "error": f"{type(exc).__name__}: {exc}"}
        current.cancel = None
        sys.stdout.write(json.dumps(answer, default=str) + "\n")
        sys.stdout.flush()
        if cancel.is_set():
            return 0


def main() -> int:
    if sys.argv[1:] == ["--zygote"]:
        return zygote()
    return main_worker()


def _preload() -> None:
    """Import what the first request of a worker would, once, before forking."""
    import gc

    import chatflow.runtime.actions.process
    import chatflow.runtime.step_actions  # noqa: F401
    from chatflow.plugins import builtin_kind
    from chatflow.runtime.actions.kinds import runtime_for

    for name in ("shell", "python"):
        kind = builtin_kind(name)
        if kind is not None and kind.runtime is not None:
            runtime_for(kind)
    gc.collect()
    gc.freeze()  # the forks share these pages: no collection writes to them


def zygote() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    _preload()
    chan = socket.socket(fileno=0)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(chan, 16, 2)
        except OSError:
            return 0
        if not msg:
            return 0
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:
            _become_worker(chan, fds[0], fds[1])
        for fd in fds:
            os.close(fd)
        try:
            chan.sendall(f"{pid}\n".encode())
        except OSError:
            return 0


def _become_worker(chan: socket.socket, conn: int, errors: int) -> None:
    """In a fork of the zygote: serve requests on `conn`; never returns."""
    code = 1
    try:
        chan.detach()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.dup2(conn, 0)
        os.dup2(conn, 1)
        os.dup2(errors, 2)
        os.close(conn)
        os.close(errors)
        code = main_worker()
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def main_worker() -> int:
    try:
        return serve()
    except BrokenPipeError:  # the driver went away
        return 0


if __name__ == "__main__":
    sys.exit(main())
