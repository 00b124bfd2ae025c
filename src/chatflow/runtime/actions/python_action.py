"""The `python` action: call `pkg.module:function` with the `with` map.

The call runs in a child Python process (`_pyrunner.py`) in the step's own
process group, so a timeout or cancel can kill it, a crash cannot take the
engine down, its prints land in the task's stdout file, its CPU time is
measured, and a module edited between runs is imported fresh.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from chatflow.runtime.actions.base import ActionContext, ActionResult, action_env, failure_text
from chatflow.runtime.actions.process import run_process

__all__ = ["run_python"]

_RUNNER = Path(__file__).with_name("_pyrunner.py")
_RESULT_FILE = ".python-result.json"


def run_python(target: str, kwargs: dict[str, Any], ctx: ActionContext) -> ActionResult:
    """Fields: `ok`, `value` (JSON data, null on failure)."""
    try:
        payload = json.dumps(kwargs, ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        return _failed(f"arguments of `{target}` are not JSON: {exc}")
    ctx.task_dir.mkdir(parents=True, exist_ok=True)
    result_path = ctx.task_dir / _RESULT_FILE
    result_path.unlink(missing_ok=True)
    # -P: do not put the runner's own directory first on sys.path, where its
    # sibling modules would shadow the user's (`shell`, `process`, ...).
    outcome = run_process(
        [sys.executable, "-P", str(_RUNNER), target, str(result_path)],
        cwd=ctx.workdir, env=action_env(ctx), out_dir=ctx.task_dir,
        stdin_data=payload, timeout_s=ctx.timeout_s, cancel=ctx.cancel,
    )
    if outcome.start_error is not None:
        return _failed(outcome.start_error)
    killed = failure_text(outcome.timed_out, outcome.cancelled, ctx.timeout_s)
    if killed is not None:
        result_path.unlink(missing_ok=True)
        return _failed(killed, cpu_s=outcome.cpu_s, timed_out=outcome.timed_out,
                       cancelled=outcome.cancelled)
    try:
        reply = json.loads(result_path.read_text(encoding="utf-8"))
        result_path.unlink()
    except (OSError, ValueError):
        return _failed(f"`{target}` ended (exit code {outcome.exit_code}) without a result",
                       cpu_s=outcome.cpu_s)
    if not reply.get("ok"):
        return _failed(str(reply.get("error") or "failed"), cpu_s=outcome.cpu_s)
    return ActionResult(True, {"ok": True, "value": reply.get("value")}, cpu_s=outcome.cpu_s)


def _failed(error: str, *, cpu_s: float = 0.0, timed_out: bool = False,
            cancelled: bool = False) -> ActionResult:
    return ActionResult(False, {"ok": False, "value": None}, error=error, cpu_s=cpu_s,
                        timed_out=timed_out, cancelled=cancelled)
