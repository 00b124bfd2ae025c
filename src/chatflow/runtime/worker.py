"""A worker process of the `parallel` strategy: run step actions, one at a time.

    python -m chatflow.runtime.worker      (JSON lines in, JSON lines out)

Each request (one JSON line on stdin) holds the action type, the values the
engine already rendered and the driver's environment; each answer (one JSON
line on stdout) is the `ActionResult`. The driver keeps a few of these
processes and reuses them across steps (`step_actions.WorkerPool`). The
worker never touches the state store: claiming and committing stay in the
driver. SIGTERM, or the driver's death (the parent pid changes), cancels the
running action (which kills its process group); a cancelled worker answers
and exits, it is never reused. End of input, or `IDLE_S` without a request,
ends the worker.
"""

from __future__ import annotations

import json
import os
import select
import signal
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
    try:
        return serve()
    except BrokenPipeError:  # the driver went away
        return 0


if __name__ == "__main__":
    sys.exit(main())
