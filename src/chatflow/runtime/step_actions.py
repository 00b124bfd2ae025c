"""Run one claimed step's action: map the engine's `Claim` (already rendered
values) onto the action modules (`runtime/actions/`) and back.

Runs with no lock held. Where the action runs depends on the flow's
`parallelism`: in the calling thread (`sequential`, `concurrent`), or, for
`shell` and `python` steps under `parallel`, in a worker process
(`runtime/worker.py`, JSON lines in and out) taken from a per-process pool
(`runtime/worker_pool.py`: forked by a zygote, reused across steps); the
calling thread waits for it and kills it (SIGTERM → the action kills its
process group) when the claim's cancel event is set — a cancelled
step's worker is never reused. `agent`
steps stay in the driver's threads (agent plugins may be registered in this
process only), `call` steps drive their child instance from the calling
thread, and a plugin kind's step (`runtime/actions/plugin_steps.py`) runs in
the calling thread after its target and options are rendered.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatflow.runtime.actions.base import ActionContext, ActionResult
from chatflow.runtime.actions.kinds import WORKER_KINDS
from chatflow.runtime.claim import ActionOutcome, Claim
from chatflow.runtime.worker_pool import MAX_IDLE_WORKERS, POOL, WorkerPool, _Worker

__all__ = ["MAX_IDLE_WORKERS", "POOL", "WORKER_ACTIONS", "WorkerPool", "_Worker",
           "make_context", "run_claim", "run_in_worker", "run_local"]

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
                            f"worker process failed (exit {worker.exit_code()}): "
                            f"{worker.stderr_tail()}")
    return ActionResult(bool(data.get("ok")), dict(data.get("fields") or {}),
                        data.get("error"), int(data.get("tokens") or 0),
                        float(data.get("cpu_s") or 0.0), bool(data.get("timed_out")),
                        bool(data.get("cancelled")))
