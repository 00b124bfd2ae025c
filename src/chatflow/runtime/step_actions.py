"""Run one claimed step's action: map the engine's `Claim` (already rendered
values) onto the action modules (`runtime/actions/`) and back.

Runs with no lock held. `call` steps start (or resume) a child instance
through the same engine and wait for it in this thread (the sequential
sub-flow strategy; issue 4 plugs concurrent dispatch in front of this).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatflow.runtime.actions.base import ActionContext, ActionResult

if TYPE_CHECKING:
    from chatflow.runtime.engine import ActionOutcome, Claim, Engine



def _context(engine: Engine, claim: Claim, task_dir: str, cancel: threading.Event
             ) -> ActionContext:
    r = claim.rendered
    workdir = Path(engine.workdir)
    if r.get("cwd"):
        workdir = (workdir / str(r["cwd"])).resolve()
    timeout = r.get("timeout_ms")
    return ActionContext(
        instance_id=claim.instance_id, step=claim.step, attempt=claim.attempt,
        workdir=workdir, task_dir=Path(task_dir),
        timeout_s=None if timeout is None else timeout / 1000.0,
        env={str(k): str(v) for k, v in (r.get("env") or {}).items()},
        cancel=cancel,
    )


def _outcome(res: ActionResult) -> ActionOutcome:
    from chatflow.runtime.engine import ActionOutcome

    fields = dict(res.fields)
    fields.setdefault("ok", res.ok)
    return ActionOutcome(res.ok, fields, res.error, res.tokens, cpu_s=res.cpu_s)


def run_claim(engine: Engine, claim: Claim, task_dir: str) -> ActionOutcome:
    from chatflow.runtime.engine import ActionOutcome

    atype = claim.action["type"]
    ctx = _context(engine, claim, task_dir, claim.cancel)
    r = claim.rendered
    if atype == "shell":
        from chatflow.runtime.actions.shell import run_shell

        return _outcome(run_shell(str(r["command"]), ctx))
    if atype == "python":
        from chatflow.runtime.actions.python_action import run_python

        return _outcome(run_python(str(r["target"]), dict(r.get("with") or {}), ctx))
    if atype == "agent":
        return _run_agent(engine, claim, ctx)
    if atype == "call":
        return engine.run_call(claim)
    return ActionOutcome(False, {"ok": False}, f"unknown action type `{atype}`")


def _run_agent(engine: Engine, claim: Claim, ctx: ActionContext) -> ActionOutcome:
    from chatflow.runtime.engine import ActionOutcome

    try:
        from chatflow.runtime.actions import agent as agent_mod
    except ImportError:
        return ActionOutcome(False, {"ok": False, "text": "", "tokens": 0},
                             "agent actions are not available in this build")
    r = claim.rendered
    fn: Any = getattr(agent_mod, "run_agent", None)
    if fn is None:
        return ActionOutcome(False, {"ok": False, "text": "", "tokens": 0},
                             "agent actions are not available in this build")
    res: ActionResult = fn(str(r["agent"]), str(r.get("prompt") or ""),
                           dict(r.get("with") or {}), ctx, engine.config)
    return _outcome(res)


def default_workdir() -> str:
    return os.getcwd()
