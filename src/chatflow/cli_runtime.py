"""The runtime's commands: `chatflow run / status / list / approve / resume /
cancel / history / artifacts / repair / migrate`, as plain functions that take
the parsed arguments and return the exit status. Neither typer nor click is
imported here: `chatflow.cli_fast` calls these straight from argv for the hot
commands, and `chatflow.cli_runtime_app` declares them to the typer app (help,
usage errors, the rest).

Printing only: every view printed here (status with quotas, the
instance tree, inputs read per the flow's params, the dry-run plan, the
damage and repair policy) is a `WorkflowEngine` method of
`chatflow.runtime.api` returning a typed record. Commands are module-level
functions; the `ChatflowError`s they raise are caught by the caller
(`chatflow.cli.run` or `chatflow.cli_fast.run`), which picks the exit code from
the error's class.
Exit codes: 0 succeeded, 1 failed (or cancelled), 3 waiting for approval,
2 usage or compile error. Progress goes to stderr, `--json` results to stdout.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chatflow.diagnostics import UsageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_WAITING = 3

STATE_HELP = ("Where instances are kept: file:DIR, sqlite:///PATH.db or "
              "postgresql://USER@HOST/DB (default: $CHATFLOW_STATE, else `state:` in "
              ".chatflow/config.yaml, else file:.chatflow).")
ID_HELP = "The instance id (printed by `chatflow run`; see `chatflow list`)."


def _engine(state: str | None) -> Any:
    from chatflow.runtime.api import WorkflowEngine

    return WorkflowEngine.open(_state_url(state))


def _state_url(state: str | None) -> str:
    from chatflow.runtime.config import resolve_state_url

    return resolve_state_url(state, Path.cwd())


def _exit_for(status: str) -> int:
    return {"succeeded": EXIT_OK, "waiting_approval": EXIT_WAITING}.get(status, EXIT_FAILED)


def _out(obj: Any) -> None:
    from chatflow.json_text import indented

    sys.stdout.write(indented(obj, default=str) + "\n")  # linear in a deep value's depth


# ---------------------------------------------------------------------------- printing


def _summary(engine: Any, instance_id: str, as_json: bool, progress: Any = None) -> int:
    """The final status after `run` / `resume` (on stderr; `--json`: stdout),
    with the output lines of failures the progress lines did not show."""
    from chatflow.cli_render import next_steps_text, status_text

    view = engine.instance_view(instance_id)
    if as_json:
        _out(view.info)
    else:
        shown = progress.shown if progress is not None else set()
        tails = {k: v for k, v in view.tails.items() if (instance_id, k) not in shown}
        sys.stderr.write(status_text(view.info, tails))
        if view.status == "waiting_approval":
            sys.stderr.write(next_steps_text(list(view.waiting), view.driver))
    return _exit_for(view.status)


def _pick_instance(engine: Any, instance_id: str | None) -> str:
    """The given ID, else the most recent instance (said on stderr)."""
    if instance_id is not None:
        return instance_id
    latest = engine.latest_instance_id()
    if latest is None:
        raise UsageError("no instances yet in this state store; start one with "
                         "`chatflow run FILE`")
    sys.stderr.write(f"(most recent instance: {latest})\n")
    return str(latest)


def _print_damage(engine: Any, instance_id: str, *, repair: bool = False) -> None:
    """Say on stderr what is damaged in the instance's stored files; before
    `resume` (`repair`), what was rebuilt (the policy: `WorkflowEngine.check_damage`)."""
    found = engine.check_damage(instance_id, repair=repair)
    for action in found.repaired:
        sys.stderr.write(f"repaired: {action}\n")
    for backup in found.backups:
        sys.stderr.write(f"  (damaged copy kept as {backup})\n")
    if found.unchecked is not None:
        sys.stderr.write(f"warning: could not check {instance_id}'s stored files: "
                         f"{found.unchecked}\n")
    if not found.problems:
        return
    for p in found.problems:
        sys.stderr.write(f"warning: damaged: {p}\n")
    if found.lost:
        sys.stderr.write(f"warning: stored history was lost; `chatflow repair {instance_id}` "
                         "records the loss (what is lost cannot be rebuilt), and `resume` "
                         "waits for that\n")
    else:
        sys.stderr.write(f"warning: run `chatflow repair {instance_id}` to rebuild what "
                         "can be rebuilt (completed steps are kept)\n")


# ---------------------------------------------------------------------------- commands


def run(target: str, inputs: list[str], feature: str | None, automation: int | None,
        dry_run: bool, state: str | None, as_json: bool) -> int:
    """Start an instance and drive it until it finishes or waits for a person."""
    from chatflow.runtime.api import WorkflowEngine, compile_flow

    compiled = compile_flow(target)  # trusted: started without validating it again
    values = WorkflowEngine.read_inputs(compiled, inputs)
    if dry_run:
        from chatflow.commands import warn_undefined_agents
        from chatflow.runtime.dry_run import render_plan

        warn_undefined_agents(compiled.ir)  # W0115 on stderr, as `chatflow lint` prints it
        plan = WorkflowEngine.plan(compiled, values, automation, feature)
        if as_json:
            _out(plan.to_dict())
        else:
            sys.stdout.write(f"plan for {plan.flow} (dry run, nothing written)\n")
            sys.stdout.write(render_plan(plan.plan) + "\n")
        return EXIT_OK
    engine = _engine(state)
    started = engine.start_workflow_instance(compiled, inputs=values, feature_id=feature,
                                             automation_level=automation)
    from chatflow.cli_render import Progress

    progress = Progress(engine, started.instance_id)
    progress.line(f"started {started.instance_id} ({started.flow}, automation "
                  f"{started.automation})", "bold")
    with _interruptible(started.instance_id):
        engine.run_until_blocked(started.instance_id, on_event=progress)
    return _summary(engine, started.instance_id, as_json, progress)


def resume(instance_id: str, state: str | None, as_json: bool) -> int:
    """Drive an instance on (after an approval, a crash or Ctrl-C)."""
    from chatflow.cli_render import Progress

    engine = _engine(state)
    _print_damage(engine, instance_id, repair=True)
    engine.status(instance_id)
    progress = Progress(engine, instance_id)
    with _interruptible(instance_id):
        engine.resume(instance_id, on_event=progress)
    return _summary(engine, instance_id, as_json, progress)


def status(instance_id: str | None, tree: bool, state: str | None, as_json: bool) -> int:
    """Show an instance's status and its steps (or, with --tree, its sub-flows)."""
    from chatflow.cli_render import next_steps_text, print_tree, status_text

    engine = _engine(state)
    instance_id = _pick_instance(engine, instance_id)
    _print_damage(engine, instance_id)
    if tree:
        root = engine.instance_tree(instance_id).to_dict()
        if as_json:
            _out(root)
            return EXIT_OK
        print_tree(root)
        if root["status"] == "waiting_approval":
            sys.stdout.write(next_steps_text(engine.waiting_points(instance_id),
                                             engine.driver_of(instance_id)))
        return EXIT_OK
    view = engine.instance_view(instance_id)
    if as_json:
        _out(view.info)
        return EXIT_OK
    sys.stdout.write(status_text(view.info, view.tails))
    if view.status == "waiting_approval":
        sys.stdout.write(next_steps_text(list(view.waiting), view.driver))
    return EXIT_OK


def list_instances(feature: str | None, state: str | None, as_json: bool) -> int:
    """List instances (of one feature); damaged ones are marked (exit 1)."""
    rows = _engine(state).list_instances(feature)
    if as_json:
        _out(rows)
    else:
        for r in rows:
            if r["status"] is None:
                sys.stdout.write(f"{r['instance_id']}  {'?':<16} {'unreadable':<17}    -\n")
            else:
                sys.stdout.write(f"{r['instance_id']}  {r['flow']:<16} {r['status']:<17} "
                                 f"{round(float(r['progress']) * 100):>3}%  "
                                 f"{r['feature_id'] or ''}\n")
            for prob in r["problems"]:
                sys.stdout.write(f"  damaged: {prob['path']}: {prob['kind']}: "
                                 f"{prob['message']}\n")
    damaged = [r["instance_id"] for r in rows if r["problems"]]
    if damaged:
        sys.stderr.write(f"warning: {len(damaged)} instance(s) have damaged stored files; "
                         f"`chatflow repair {damaged[0] if len(damaged) == 1 else 'ID'}` "
                         "says what it can rebuild\n")
        return EXIT_FAILED
    return EXIT_OK


def approve(instance_id: str, step: str, reject: bool, by: str | None, comment: str,
            state: str | None, as_json: bool) -> int:
    """Record a decision on a waiting step (`chatflow resume` then continues)."""
    engine = _engine(state)
    who = by or os.environ.get("USER") or _user()
    if reject:
        info = engine.reject(instance_id, step, who, comment)
    else:
        info = engine.approve(instance_id, step, who, comment)
    if as_json:
        _out(info.to_dict())
    verb = "rejected" if reject else "approved"
    sys.stderr.write(f"{verb} {step} of {instance_id} (by {who})\n")
    if info.status not in ("succeeded", "failed", "cancelled"):
        sys.stderr.write(f"continue with: chatflow resume {engine.driver_of(instance_id)}\n")
    else:
        sys.stderr.write(f"the instance is {info.status}\n")
    return EXIT_OK


def cancel(instance_id: str, state: str | None, as_json: bool) -> int:
    """Cancel an instance (and its sub-flows)."""
    info = _engine(state).cancel(instance_id)
    if as_json:
        _out(info.to_dict())
    else:
        sys.stderr.write(f"{instance_id} is {info.status}\n")
    return EXIT_OK


def history(instance_id: str | None, state: str | None, as_json: bool) -> int:
    """Print an instance's history, one event per line."""
    engine = _engine(state)
    instance_id = _pick_instance(engine, instance_id)
    _print_damage(engine, instance_id)
    for ev in engine.history(instance_id):
        if as_json:
            sys.stdout.write(json.dumps(ev.to_dict(), ensure_ascii=False, default=str) + "\n")
        else:
            brief = {k: v for k, v in ev.data.items() if k in (
                "status", "attempt", "iteration", "resumed", "gate", "by", "error",
                "command", "bindings", "message", "child_instance_id")}
            tail = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}"
                            for k, v in brief.items())
            sys.stdout.write(f"{ev.seq:>5} {ev.ts} {ev.type:<22} {ev.step or '-':<20} "
                             f"{tail}".rstrip() + "\n")
    return EXIT_OK


def artifacts(instance_id: str, step: str | None, state: str | None, as_json: bool) -> int:
    """List the files a step (or every step) left: stdout, stderr, artifacts."""
    rows = _engine(state).get_task_artifacts(instance_id, step)
    if as_json:
        _out(rows)
        return EXIT_OK
    for r in rows:
        sys.stdout.write(f"{r['step']:<20} {r['name']:<24} {r['size']:>9}  "
                         f"{r['path'] or ''}\n")
    return EXIT_OK


def repair(instance_id: str, state: str | None) -> int:
    """Check an instance's stored files and rebuild what can be rebuilt."""
    from chatflow.runtime.api import WorkflowEngine

    outcome = WorkflowEngine.repair(_state_url(state), instance_id)
    if not outcome.problems:
        sys.stdout.write(f"{instance_id}: no problems found\n")
        return EXIT_OK
    for p in outcome.problems:
        sys.stdout.write(f"problem: {p}\n")
    for action in outcome.report.actions:
        sys.stdout.write(f"repaired: {action}\n")
    for b in outcome.report.backups:
        sys.stdout.write(f"backup: {b}\n")
    if not outcome.ok:
        return EXIT_FAILED
    return EXIT_OK


def migrate(state: str | None, as_json: bool) -> int:
    """Upgrade the state store to the current format (keeps a backup)."""
    from chatflow.runtime.api import WorkflowEngine

    url = _state_url(state)
    report = WorkflowEngine.migrate(url)
    if as_json:
        _out({"url": report.url, "from_format": report.from_format,
              "to_format": report.to_format, "migrated": report.migrated,
              "backup": report.backup, "message": report.message})
    else:
        sys.stdout.write((report.message or
                          f"{url}: format {report.from_format} -> {report.to_format}, "
                          f"{len(report.migrated)} instance(s) migrated") + "\n")
        if report.backup:
            sys.stdout.write(f"backup: {report.backup}\n")
    return EXIT_OK



@contextlib.contextmanager
def _interruptible(instance_id: str) -> Iterator[None]:
    """Ctrl-C or SIGTERM while driving: the engine kills the running steps'
    process groups and records them as interrupted; say how to go on (the
    KeyboardInterrupt then exits 130)."""
    import signal

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except KeyboardInterrupt:
        sys.stderr.write(f"interrupted: running steps were stopped; continue with: "
                         f"chatflow resume {instance_id}\n")
        raise
    finally:
        signal.signal(signal.SIGTERM, old)


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
