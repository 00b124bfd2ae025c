"""What every action gets (`ActionContext`) and gives back (`ActionResult`).

Actions take concrete values (the engine has already evaluated and rendered
every expression) and never touch the state store.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ActionContext", "ActionResult", "action_env", "failure_text"]


@dataclass
class ActionContext:
    instance_id: str
    step: str
    attempt: int
    workdir: Path                  # where the step runs (its `cwd`, already resolved)
    task_dir: Path                 # stdout, stderr and artifacts go here; created on use
    timeout_s: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)  # set to kill the step
    config: Any = None             # the runtime's Config (agents read their settings there)


@dataclass
class ActionResult:
    ok: bool
    fields: dict[str, Any]         # the step's fields (`ok`, `exit_code`, `text`, ...)
    error: str | None = None       # why it failed, in user terms
    tokens: int = 0
    cpu_s: float = 0.0
    timed_out: bool = False
    cancelled: bool = False


def action_env(ctx: ActionContext, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The child environment: ours, the step's `env`, then the CHATFLOW_* variables."""
    env = dict(os.environ)
    env.update(ctx.env)
    if extra:
        env.update(extra)
    env["CHATFLOW_INSTANCE_ID"] = ctx.instance_id
    env["CHATFLOW_STEP"] = ctx.step
    env["CHATFLOW_ATTEMPT"] = str(ctx.attempt)
    return env


def failure_text(timed_out: bool, cancelled: bool, timeout_s: float | None) -> str | None:
    """The error for a killed process, or None when it was not killed."""
    if timed_out:
        return f"timed out after {timeout_s:g}s; its process group was killed"
    if cancelled:
        return "cancelled; its process group was killed"
    return None
