"""Run one claimed step's action: map the engine's `Claim` (already rendered
values) onto the action modules (`runtime/actions/`) and back.

Runs with no lock held. Where the action runs depends on the flow's
`parallelism`: in the calling thread (`sequential`, `concurrent`), or, for
`shell` and `python` steps under `parallel`, in a worker process
(`runtime/worker.py`, JSON lines in and out) taken from a per-process pool
(started lazily, reused across steps); the calling thread waits for it and
kills it (SIGTERM → the action kills its process group) when the claim's
cancel event is set — a cancelled step's worker is never reused. `agent`
steps stay in the driver's threads (agent plugins may be registered in this
process only), `call` steps drive their child instance from the calling
thread, and a plugin kind's step (`runtime/actions/plugin_steps.py`) runs in
the calling thread after its target and options are rendered.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatflow.runtime.actions.base import ActionContext, ActionResult
from chatflow.runtime.actions.kinds import WORKER_KINDS
from chatflow.runtime.claim import ActionOutcome, Claim

if TYPE_CHECKING:
    from chatflow.runtime.engine import Engine

WORKER_ACTIONS = WORKER_KINDS
"""Action types a `parallel` flow runs in worker processes (the registry's)."""


def make_context(instance_id: str, step: str, attempt: int, rendered: dict[str, Any],
                 workdir: str, task_dir: str, cancel: threading.Event) -> ActionContext:
    root = Path(workdir)
    if rendered.get("cwd"):
        root = (root / str(rendered["cwd"])).resolve()
    timeout = rendered.get("timeout_ms")
    return ActionContext(
        instance_id=instance_id, step=step, attempt=attempt,
        workdir=root, task_dir=Path(task_dir),
        timeout_s=None if timeout is None else timeout / 1000.0,
        env={str(k): str(v) for k, v in (*(rendered.get("env") or {}).items(),
                                          *(rendered.get("bindings") or {}).items())},
        cancel=cancel,
    )


def run_local(atype: str, rendered: dict[str, Any], ctx: ActionContext,
              config: Any) -> ActionResult:
    """Run a built-in kind's action (`shell`, `python`, `agent`) in this
    process, through the kind's implementation in the registry."""
    from chatflow.plugins import builtin_kind
    from chatflow.runtime.actions.kinds import runtime_for

    kind = builtin_kind(atype)
    if kind is None or kind.runtime is None:
        return ActionResult(False, {"ok": False}, f"unknown action type `{atype}`")
    ctx.config = config
    return runtime_for(kind).run(rendered, ctx)


def _outcome(res: ActionResult) -> ActionOutcome:
    fields = dict(res.fields)
    fields.setdefault("ok", res.ok)
    return ActionOutcome(res.ok, fields, res.error, res.tokens, cpu_s=res.cpu_s)


def run_claim(engine: Engine, claim: Claim, task_dir: str) -> ActionOutcome:
    atype = claim.action["type"]
    if atype == "call":
        return engine.run_call(claim)
    if "plugin" in claim.action:
        return _outcome(run_plugin_claim(engine, claim, task_dir))
    if claim.strategy == "parallel" and atype in WORKER_ACTIONS:
        return _outcome(run_in_worker(atype, claim, engine.workdir, task_dir))
    ctx = make_context(claim.instance_id, claim.step, claim.attempt, claim.rendered,
                       engine.workdir, task_dir, claim.cancel)
    return _outcome(run_local(atype, claim.rendered, ctx, engine.config))


def run_plugin_claim(engine: Engine, claim: Claim, task_dir: str) -> ActionResult:
    """A plugin kind's step: check the plugin is still there (same major
    version), then run it in this thread on the values the engine rendered
    when it claimed the step."""
    from chatflow.runtime.actions.plugin_steps import plugin_problem, run_plugin

    problem = plugin_problem(claim.action)
    if problem is not None:
        return ActionResult(False, {"ok": False}, problem)
    ctx = make_context(claim.instance_id, claim.step, claim.attempt, claim.rendered,
                       engine.workdir, task_dir, claim.cancel)
    ctx.config = engine.config
    return run_plugin(claim.action, dict(claim.rendered.get("plugin_values") or {}), ctx)


# ---------------------------------------------------------------------------- worker processes

_KILL_GRACE_S = 5.0
_POLL_S = 0.05
MAX_IDLE_WORKERS = 32
"""Idle workers kept for reuse (more are closed when they come back)."""


class _Worker:
    """One `python -m chatflow.runtime.worker` process: a JSON line in, a
    JSON line out, one request at a time."""

    def __init__(self) -> None:
        import tempfile

        # its stderr, read when it fails; closed in close()
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "chatflow.runtime.worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.errors, close_fds=True)
        self.buf = bytearray()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def ask(self, request: dict[str, Any], cancel: threading.Event) -> dict[str, Any] | None:
        """Send one request and wait for its answer (None: the worker died or
        was killed). Setting `cancel` sends SIGTERM (the worker cancels its
        action, which kills its process group), then SIGKILL after a grace
        period."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        fd = self.proc.stdout.fileno()
        killed_at: float | None = None
        while b"\n" not in self.buf:
            ready, _, _ = select.select([fd], [], [], _POLL_S)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                self.buf.extend(chunk)
                continue
            if cancel.is_set() and self.alive():
                now = time.monotonic()
                if killed_at is None:
                    killed_at = now
                    self.signal(signal.SIGTERM)
                elif now - killed_at > _KILL_GRACE_S:
                    self.signal(signal.SIGKILL)
            elif not self.alive():
                return None
        i = self.buf.index(b"\n")
        line = bytes(self.buf[:i])
        del self.buf[: i + 1]
        try:
            data = json.loads(line)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def stderr_tail(self) -> str:
        try:
            self.errors.seek(0)
            return self.errors.read().decode("utf-8", "replace").strip()[-500:]
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.proc.pid, sig)

    def close(self) -> None:
        """Kill the worker and reap it (a cancelled or broken one)."""
        if self.alive():
            self.signal(signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)
        for f in (self.proc.stdin, self.proc.stdout, self.errors):
            with contextlib.suppress(Exception):
                if f is not None:
                    f.close()


class WorkerPool:
    """The driver process's worker processes: started lazily (a group that
    runs N steps at once ends up with N), reused across steps and engines,
    killed and replaced after a cancelled step. Workers get the driver's
    environment with each request, so reuse never changes what a step sees."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._starting = 0
        self._pid = os.getpid()

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
        """Have `count` workers idle soon (started in the background, so
        their interpreter start-up overlaps the driver's claims and commits)."""
        with self._lock:
            missing = count - len(self._idle) - self._starting
            if missing <= 0:
                return
            self._starting += missing

        def spawn() -> None:
            for _ in range(missing):
                try:
                    w = _Worker()
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


POOL = WorkerPool()


def run_in_worker(atype: str, claim: Claim, workdir: str, task_dir: str) -> ActionResult:
    """Run one action in a pooled worker process: the request goes as one
    JSON line, the `ActionResult` comes back as one JSON line."""
    request = {"type": atype, "rendered": claim.rendered, "instance_id": claim.instance_id,
               "step": claim.step, "attempt": claim.attempt,
               "workdir": os.path.abspath(workdir), "task_dir": os.path.abspath(task_dir),
               "environ": dict(os.environ)}
    try:
        worker = POOL.acquire()
    except OSError as exc:
        return ActionResult(False, {"ok": False}, f"cannot start a worker process: {exc}")
    data = None
    try:
        data = worker.ask(request, claim.cancel)
    finally:
        if data is None or claim.cancel.is_set() or data.get("cancelled"):
            worker.close()  # killed, broken or cancelled: never reused
        else:
            POOL.release(worker)
    if data is None:
        if claim.cancel.is_set():
            return ActionResult(False, {"ok": False}, "cancelled; its worker was killed",
                                cancelled=True)
        return ActionResult(False, {"ok": False},
                            f"worker process failed (exit {worker.proc.returncode}): "
                            f"{worker.stderr_tail()}")
    return ActionResult(bool(data.get("ok")), dict(data.get("fields") or {}),
                        data.get("error"), int(data.get("tokens") or 0),
                        float(data.get("cpu_s") or 0.0), bool(data.get("timed_out")),
                        bool(data.get("cancelled")))
