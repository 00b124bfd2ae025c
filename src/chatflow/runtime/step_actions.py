"""Run one claimed step's action: map the engine's `Claim` (already rendered
values) onto the action modules (`runtime/actions/`) and back.

Runs with no lock held. Where the action runs depends on the flow's
`parallelism`: in the calling thread (`sequential`, `concurrent`), or, for
`shell` and `python` steps under `parallel`, in a separate worker process
(`runtime/worker.py`, JSON in and out) that the calling thread waits for and
kills (SIGTERM → the action kills its process group) when the claim's cancel
event is set. `agent` steps stay in the driver's threads (agent plugins may
be registered in this process only) and `call` steps drive their child
instance from the calling thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatflow.runtime.actions.base import ActionContext, ActionResult

if TYPE_CHECKING:
    from chatflow.runtime.engine import ActionOutcome, Claim, Engine

WORKER_ACTIONS = frozenset({"shell", "python"})
"""Action types a `parallel` flow runs in worker processes."""


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
        env={str(k): str(v) for k, v in (rendered.get("env") or {}).items()},
        cancel=cancel,
    )


def run_local(atype: str, rendered: dict[str, Any], ctx: ActionContext,
              config: Any) -> ActionResult:
    """Run a `shell`, `python` or `agent` action in this process."""
    if atype == "shell":
        from chatflow.runtime.actions.shell import run_shell

        return run_shell(str(rendered["command"]), ctx)
    if atype == "python":
        from chatflow.runtime.actions.python_action import run_python

        return run_python(str(rendered["target"]), dict(rendered.get("with") or {}), ctx)
    if atype == "agent":
        return _run_agent(rendered, ctx, config)
    return ActionResult(False, {"ok": False}, f"unknown action type `{atype}`")


def _outcome(res: ActionResult) -> ActionOutcome:
    from chatflow.runtime.engine import ActionOutcome

    fields = dict(res.fields)
    fields.setdefault("ok", res.ok)
    return ActionOutcome(res.ok, fields, res.error, res.tokens, cpu_s=res.cpu_s)


def run_claim(engine: Engine, claim: Claim, task_dir: str) -> ActionOutcome:
    atype = claim.action["type"]
    if atype == "call":
        return engine.run_call(claim)
    if claim.strategy == "parallel" and atype in WORKER_ACTIONS:
        return _outcome(run_in_worker(atype, claim, engine.workdir, task_dir))
    ctx = make_context(claim.instance_id, claim.step, claim.attempt, claim.rendered,
                       engine.workdir, task_dir, claim.cancel)
    return _outcome(run_local(atype, claim.rendered, ctx, engine.config))


def _run_agent(rendered: dict[str, Any], ctx: ActionContext, config: Any) -> ActionResult:
    try:
        from chatflow.runtime.actions import agent as agent_mod
    except ImportError:
        return ActionResult(False, {"ok": False, "text": "", "tokens": 0},
                            "agent actions are not available in this build")
    fn: Any = getattr(agent_mod, "run_agent", None)
    if fn is None:
        return ActionResult(False, {"ok": False, "text": "", "tokens": 0},
                            "agent actions are not available in this build")
    res: ActionResult = fn(str(rendered["agent"]), str(rendered.get("prompt") or ""),
                           dict(rendered.get("with") or {}), ctx, config)
    return res


# ---------------------------------------------------------------------------- worker processes

_KILL_GRACE_S = 5.0


def run_in_worker(atype: str, claim: Claim, workdir: str, task_dir: str) -> ActionResult:
    """Run one action in a fresh worker process (`python -m
    chatflow.runtime.worker`): the request goes as JSON on stdin, the
    `ActionResult` comes back as JSON on stdout. Setting `claim.cancel`
    sends SIGTERM (the worker cancels its action, which kills its process
    group), then SIGKILL after a grace period."""
    request = {"type": atype, "rendered": claim.rendered, "instance_id": claim.instance_id,
               "step": claim.step, "attempt": claim.attempt, "workdir": workdir,
               "task_dir": task_dir}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "chatflow.runtime.worker"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=workdir, close_fds=True)
    except OSError as exc:
        return ActionResult(False, {"ok": False}, f"cannot start a worker process: {exc}")
    out: list[bytes] = []
    err: list[bytes] = []

    def talk() -> None:
        o, e = proc.communicate(json.dumps(request).encode("utf-8"))
        out.append(o)
        err.append(e)

    t = threading.Thread(target=talk, daemon=True)
    t.start()
    killed_at: float | None = None
    while t.is_alive():
        t.join(0.05)
        if claim.cancel.is_set() and proc.poll() is None:
            now = time.monotonic()
            if killed_at is None:
                killed_at = now
                _signal(proc, signal.SIGTERM)
            elif now - killed_at > _KILL_GRACE_S:
                _signal(proc, signal.SIGKILL)
    t.join()
    text = (out[0] if out else b"").decode("utf-8", "replace").strip()
    try:
        data = json.loads(text.splitlines()[-1]) if text else None
    except (ValueError, IndexError):
        data = None
    if not isinstance(data, dict):
        why = (err[0] if err else b"").decode("utf-8", "replace").strip()[-500:]
        if claim.cancel.is_set():
            return ActionResult(False, {"ok": False}, "cancelled; its worker was killed",
                                cancelled=True)
        return ActionResult(False, {"ok": False},
                            f"worker process failed (exit {proc.returncode}): {why}")
    return ActionResult(bool(data.get("ok")), dict(data.get("fields") or {}),
                        data.get("error"), int(data.get("tokens") or 0),
                        float(data.get("cpu_s") or 0.0), bool(data.get("timed_out")),
                        bool(data.get("cancelled")))


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(proc.pid, sig)
