"""The `shell` action: `/bin/sh -c COMMAND` in the step's own process group.

The command is the fixed text the compiler wrote; the values of its holes
are environment variables of the process (`ctx.env`, from the action's
bindings), which the text references. It is passed as one argv item of
`["/bin/sh", "-c", command]`; subprocess never builds a command line.
"""

from __future__ import annotations

from chatflow.runtime.actions.base import ActionContext, ActionResult, action_env, failure_text
from chatflow.runtime.actions.process import run_process

__all__ = ["run_shell"]


def run_shell(command: str, ctx: ActionContext) -> ActionResult:
    """Fields: `ok`, `exit_code`, `stdout`, `stderr`."""
    outcome = run_process(
        ["/bin/sh", "-c", command],
        cwd=ctx.workdir, env=action_env(ctx), out_dir=ctx.task_dir,
        timeout_s=ctx.timeout_s, cancel=ctx.cancel,
    )
    if outcome.start_error is not None:
        fields = {"ok": False, "exit_code": -1, "stdout": "", "stderr": outcome.start_error}
        return ActionResult(False, fields, error=outcome.start_error)
    exit_code = outcome.exit_code if outcome.exit_code is not None else -1
    ok = exit_code == 0 and not outcome.timed_out and not outcome.cancelled
    error = failure_text(outcome.timed_out, outcome.cancelled, ctx.timeout_s)
    if error is None and not ok:
        error = f"command exited with code {exit_code}"
    fields = {"ok": ok, "exit_code": exit_code, "stdout": outcome.stdout, "stderr": outcome.stderr}
    return ActionResult(
        ok, fields, error=error, cpu_s=outcome.cpu_s,
        timed_out=outcome.timed_out, cancelled=outcome.cancelled,
    )
