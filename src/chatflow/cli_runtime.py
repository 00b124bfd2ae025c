"""The runtime's commands: `chatflow run / status / list / approve / resume /
cancel / history / artifacts / migrate`, added to the app by `register(app)`.

Parsing and printing only; the work is done by `chatflow.runtime.api`.
Exit codes: 0 succeeded, 1 failed (or cancelled), 3 waiting for approval,
2 usage or compile error. Progress goes to stderr, `--json` results to stdout.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, TypeVar

import typer

from chatflow.cli_inputs import parse_input_value as parse_input_value  # re-exported
from chatflow.cli_inputs import parse_inputs
from chatflow.commands import exit_code_for
from chatflow.diagnostics import ChatflowError, UsageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_WAITING = 3

STATE_HELP = ("Where instances are kept: file:DIR, sqlite:///PATH.db or "
              "postgresql://USER@HOST/DB (default: $CHATFLOW_STATE, else `state:` in "
              ".chatflow/config.yaml, else file:.chatflow).")
ID_HELP = "The instance id (printed by `chatflow run`; see `chatflow list`)."

StateOpt = Annotated[str | None, typer.Option("--state", metavar="URL", help=STATE_HELP)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")]

F = TypeVar("F", bound=Callable[..., Any])


def _guarded(fn: F) -> F:
    """Turn ChatflowError into `error: ...` + its exit code (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ChatflowError as exc:
            if exc.diagnostics:
                _print_diagnostics(exc.diagnostics, exc.sources)
            sys.stderr.write(f"error: {exc.message}\n")
            raise typer.Exit(exit_code_for(exc)) from None

    return wrapper  # type: ignore[return-value]


def _print_diagnostics(diags: Any, sources: Mapping[str, str]) -> None:
    try:
        from chatflow import diagnostic_format as df

        sys.stderr.write(df.render_text(diags, dict(sources), color=df.use_color(sys.stderr)))
    except ImportError:  # pragma: no cover - the renderer ships with the CLI
        for d in diags:
            sys.stderr.write(f"{d.severity.value}[{d.code}]: {d.message}\n")


def _engine(state: str | None) -> Any:
    from chatflow.runtime.api import WorkflowEngine
    from chatflow.runtime.config import resolve_state_url

    return WorkflowEngine.open(resolve_state_url(state, Path.cwd()))


def _exit_for(status: str) -> int:
    return {"succeeded": EXIT_OK, "waiting_approval": EXIT_WAITING}.get(status, EXIT_FAILED)


def _out(obj: Any) -> None:
    from chatflow.json_text import indented

    sys.stdout.write(indented(obj, default=str) + "\n")  # linear in a deep value's depth


# ---------------------------------------------------------------------------- printing


def _summary(engine: Any, instance_id: str, as_json: bool, progress: Any = None) -> int:
    """The final status after `run` / `resume` (on stderr; `--json`: stdout),
    with the output lines of failures the progress lines did not show."""
    from chatflow.cli_render import status_text
    from chatflow.runtime.views import status_with_quota

    info = status_with_quota(engine, instance_id)
    if as_json:
        _out(info)
    else:
        shown = progress.shown if progress is not None else set()
        tails = {k: v for k, v in _failure_tails(engine, info).items()
                 if (instance_id, k) not in shown}
        sys.stderr.write(status_text(info, tails))
        if info["status"] == "waiting_approval":
            sys.stderr.write(_next_steps(engine, instance_id))
    return _exit_for(info["status"])


def _failure_tails(engine: Any, info: Mapping[str, Any]) -> dict[str, Any]:
    """The last output lines of each failed step (none for cancelled ones)."""
    from chatflow.runtime.views import step_output_tail

    tails = {}
    for name, s in info["steps"].items():
        if s.get("status") == "failed" and s.get("kind", "step") == "step":
            tail = step_output_tail(engine, info["instance_id"], name, s.get("outputs") or {})
            if tail is not None:
                tails[name] = tail
    return tails


def _next_steps(engine: Any, instance_id: str) -> str:
    """The approve commands for the steps that wait (in sub-flows too) and
    the resume of the instance that drives on."""
    from chatflow.cli_render import next_steps_text
    from chatflow.runtime.waits import driver_of, waiting_points

    return next_steps_text(waiting_points(engine.store, instance_id),
                           driver_of(engine.store, instance_id))


def _pick_instance(engine: Any, instance_id: str | None) -> str:
    """The given ID, else the most recent instance (said on stderr)."""
    if instance_id is not None:
        return instance_id
    from chatflow.runtime.views import latest_instance

    latest = latest_instance(engine.store)
    if latest is None:
        raise UsageError("no instances yet in this state store; start one with "
                            "`chatflow run FILE`")
    sys.stderr.write(f"(most recent instance: {latest.instance_id})\n")
    return str(latest.instance_id)


# ---------------------------------------------------------------------------- commands


def register(app: typer.Typer) -> None:
    """Add the runtime commands to `app`."""

    @app.command("run")
    @_guarded
    def run_cmd(
        target: Annotated[str, typer.Argument(
            metavar="FILE[:FLOW]",
            help="The flow file to run, optionally `:FLOW` to pick one of its flows.")],
        inputs: Annotated[list[str] | None, typer.Option(
            "-i", "--input", metavar="NAME=VALUE",
            help="A param value, read per its declared type (repeatable).")] = None,
        feature: Annotated[str | None, typer.Option(
            "--feature", metavar="ID",
            help="File the instance under this feature id (`chatflow list --feature ID`).",
        )] = None,
        automation: Annotated[int | None, typer.Option(
            "--automation", min=0, max=100, metavar="LEVEL",
            help="Automation level 0..100: approvals, and steps whose risk is at or above "
                 "it, wait for a person (default: the flow's `automation`, else "
                 "`automation:` in .chatflow/config.yaml, else 100).")] = None,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="Print the plan (what would run, pause or be skipped) and "
                              "warnings about undefined agents; write nothing.")] = False,
        state: StateOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Start an instance and drive it until it finishes or waits for a person."""
        from chatflow.runtime.api import compile_flow
        from chatflow.runtime.engine import bind_inputs

        compiled = compile_flow(target)  # trusted: started without validating it again
        ir = compiled.ir
        flow = ir["flows"][ir["entry"]]
        values = bind_inputs(flow, parse_inputs(inputs or [], flow))
        if dry_run:
            from chatflow.commands import warn_undefined_agents
            from chatflow.runtime.config import CONFIG_RELPATH, load_config
            from chatflow.runtime.dry_run import plan_flow, render_plan

            warn_undefined_agents(ir)  # W0115 on stderr, as `chatflow lint` prints it

            level = automation
            if level is None:
                level = (flow.get("settings") or {}).get("automation")
            if level is None:
                level = load_config(Path.cwd() / CONFIG_RELPATH).automation
            plan = plan_flow(ir, values, 100 if level is None else int(level), feature)
            if as_json:
                _out({"flow": flow.get("name"), "automation": level, "plan": plan})
            else:
                sys.stdout.write(f"plan for {flow.get('name')} (dry run, nothing written)\n")
                sys.stdout.write(render_plan(plan) + "\n")
            raise typer.Exit(EXIT_OK)
        engine = _engine(state)
        started = engine.start_workflow_instance(compiled, inputs=values, feature_id=feature,
                                                 automation_level=automation)
        from chatflow.cli_render import Progress

        progress = Progress(engine, started.instance_id)
        progress.line(f"started {started.instance_id} ({started.flow}, automation "
                      f"{started.automation})", "bold")
        with _interruptible(started.instance_id):
            engine.run_until_blocked(started.instance_id, on_event=progress)
        raise typer.Exit(_summary(engine, started.instance_id, as_json, progress))

    @app.command("resume")
    @_guarded
    def resume_cmd(instance_id: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)],
                   state: StateOpt = None, as_json: JsonOpt = False) -> None:
        """Drive an instance on (after an approval, a crash or Ctrl-C)."""
        from chatflow.cli_render import Progress

        engine = _engine(state)
        _check_damage(engine, instance_id, repair=True)
        engine.status(instance_id)
        progress = Progress(engine, instance_id)
        with _interruptible(instance_id):
            engine.resume(instance_id, on_event=progress)
        raise typer.Exit(_summary(engine, instance_id, as_json, progress))

    @app.command("status")
    @_guarded
    def status_cmd(instance_id: Annotated[str | None, typer.Argument(
                       metavar="[ID]", help="The instance (default: the most recent one).")
                   ] = None,
                   tree: Annotated[bool, typer.Option(
                       "--tree", help="Draw the instance and its sub-flows as a tree.")] = False,
                   state: StateOpt = None, as_json: JsonOpt = False) -> None:
        """Show an instance's status and its steps (or, with --tree, its sub-flows)."""
        from chatflow.cli_render import print_tree, status_text
        from chatflow.runtime.views import instance_tree, status_with_quota

        engine = _engine(state)
        instance_id = _pick_instance(engine, instance_id)
        _check_damage(engine, instance_id)
        if tree:
            root = instance_tree(engine, instance_id)
            if as_json:
                _out(root)
                return
            print_tree(root)
            waiting = root["status"] == "waiting_approval"
        else:
            info = status_with_quota(engine, instance_id)
            if as_json:
                _out(info)
                return
            sys.stdout.write(status_text(info, _failure_tails(engine, info)))
            waiting = info["status"] == "waiting_approval"
        if waiting:
            sys.stdout.write(_next_steps(engine, instance_id))

    @app.command("list")
    @_guarded
    def list_cmd(feature: Annotated[str | None, typer.Option(
                     "--feature", metavar="ID",
                     help="Only the instances filed under this feature id.")] = None,
                 state: StateOpt = None, as_json: JsonOpt = False) -> None:
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
            raise typer.Exit(EXIT_FAILED)

    @app.command("approve")
    @_guarded
    def approve_cmd(
        instance_id: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)],
        step: Annotated[str, typer.Argument(
            metavar="STEP", help="The waiting step to decide on.")],
        reject: Annotated[bool, typer.Option(
            "--reject", help="Reject instead of approving.")] = False,
        by: Annotated[str | None, typer.Option(
            "--by", metavar="NAME", help="Who decides (default: $USER).")] = None,
        comment: Annotated[str, typer.Option(
            "--comment", metavar="TEXT",
            help="A note kept with the decision in the history.")] = "",
        state: StateOpt = None, as_json: JsonOpt = False,
    ) -> None:
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
            from chatflow.runtime.waits import driver_of

            sys.stderr.write(f"continue with: chatflow resume "
                             f"{driver_of(engine.store, instance_id)}\n")
        else:
            sys.stderr.write(f"the instance is {info.status}\n")

    @app.command("cancel")
    @_guarded
    def cancel_cmd(instance_id: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)],
                   state: StateOpt = None, as_json: JsonOpt = False) -> None:
        """Cancel an instance (and its sub-flows)."""
        info = _engine(state).cancel(instance_id)
        if as_json:
            _out(info.to_dict())
        else:
            sys.stderr.write(f"{instance_id} is {info.status}\n")

    @app.command("history")
    @_guarded
    def history_cmd(instance_id: Annotated[str | None, typer.Argument(
                        metavar="[ID]", help="The instance (default: the most recent one).")
                    ] = None,
                    state: StateOpt = None,
                    as_json: Annotated[bool, typer.Option(
                        "--json", help="One JSON object per line (ndjson).")] = False) -> None:
        """Print an instance's history, one event per line."""
        engine = _engine(state)
        instance_id = _pick_instance(engine, instance_id)
        _check_damage(engine, instance_id)
        for ev in engine.history(instance_id):
            if as_json:
                sys.stdout.write(json.dumps(ev.to_dict(), ensure_ascii=False,
                                            default=str) + "\n")
            else:
                brief = {k: v for k, v in ev.data.items() if k in (
                    "status", "attempt", "iteration", "resumed", "gate", "by", "error",
                    "command", "bindings", "message", "child_instance_id")}
                tail = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}"
                                for k, v in brief.items())
                sys.stdout.write(f"{ev.seq:>5} {ev.ts} {ev.type:<22} {ev.step or '-':<20} "
                                 f"{tail}".rstrip() + "\n")

    @app.command("artifacts")
    @_guarded
    def artifacts_cmd(instance_id: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)],
                      step: Annotated[str | None, typer.Argument(
                          metavar="STEP", help="Only this step's files.")] = None,
                      state: StateOpt = None, as_json: JsonOpt = False) -> None:
        """List the files a step (or every step) left: stdout, stderr, artifacts."""
        rows = _engine(state).get_task_artifacts(instance_id, step)
        if as_json:
            _out(rows)
            return
        for r in rows:
            sys.stdout.write(f"{r['step']:<20} {r['name']:<24} {r['size']:>9}  "
                             f"{r['path'] or ''}\n")

    @app.command("repair")
    @_guarded
    def repair_cmd(instance_id: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)],
                   state: StateOpt = None) -> None:
        """Check an instance's stored files and rebuild what can be rebuilt."""
        from chatflow.runtime.api import WorkflowEngine, check_instance_id, normalize_state_url
        from chatflow.runtime.config import resolve_state_url
        from chatflow.runtime.store import open_store

        check_instance_id(instance_id)
        url = normalize_state_url(resolve_state_url(state, Path.cwd()), Path.cwd())
        WorkflowEngine.forget()
        store = open_store(url)
        problems = store.check(instance_id)
        if not problems:
            sys.stdout.write(f"{instance_id}: no problems found\n")
            return
        for p in problems:
            sys.stdout.write(f"problem: {p}\n")
        report = store.repair(instance_id)
        for action in report.actions:
            sys.stdout.write(f"repaired: {action}\n")
        for b in report.backups:
            sys.stdout.write(f"backup: {b}\n")
        if not report.ok:
            raise typer.Exit(EXIT_FAILED)

    @app.command("migrate")
    @_guarded
    def migrate_cmd(state: StateOpt = None, as_json: JsonOpt = False) -> None:
        """Upgrade the state store to the current format (keeps a backup)."""
        from chatflow.runtime.api import WorkflowEngine
        from chatflow.runtime.config import resolve_state_url
        from chatflow.runtime.store import migrate_store

        url = resolve_state_url(state, Path.cwd())
        WorkflowEngine.forget()
        report = migrate_store(url)
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


def _check_damage(engine: Any, instance_id: str, *, repair: bool = False) -> None:
    """Say on stderr what is damaged in the instance's stored files (a torn
    history tail, a garbage status file...); with `repair` (resume), rebuild
    it first when the store can do so without losing anything, under the
    instance's lock so no commit is half-written meanwhile. Lost history is
    never repaired here: `resume` stops with the error (nothing can be
    committed until `chatflow repair` records the loss)."""
    from chatflow.runtime.api import check_instance_id
    from chatflow.runtime.store.base import InstanceNotFound, StoreCorruption

    check_instance_id(instance_id)
    store = engine.store
    try:
        if not store.exists(instance_id):
            return  # the command itself reports the unknown id
        with store.lock(instance_id) if repair else contextlib.nullcontext():
            problems = store.check(instance_id)
            if problems and repair and all(p.repairable and not p.lossy for p in problems):
                report = store.repair(instance_id)
                if report.ok:
                    for action in report.actions:
                        sys.stderr.write(f"repaired: {action}\n")
                    for backup in report.backups:
                        sys.stderr.write(f"  (damaged copy kept as {backup})\n")
                    return
    except InstanceNotFound:
        return
    except (ChatflowError, NotImplementedError, OSError) as exc:
        sys.stderr.write(f"warning: could not check {instance_id}'s stored files: {exc}\n")
        return
    lost = [p for p in problems if p.lossy]
    if repair and lost:
        raise StoreCorruption(lost)
    if problems:
        for p in problems:
            sys.stderr.write(f"warning: damaged: {p}\n")
        if lost:
            sys.stderr.write(f"warning: stored history was lost; `chatflow repair {instance_id}` "
                             "records the loss (what is lost cannot be rebuilt), and `resume` "
                             "waits for that\n")
        else:
            sys.stderr.write(f"warning: run `chatflow repair {instance_id}` to rebuild what "
                             "can be rebuilt (completed steps are kept)\n")


@contextlib.contextmanager
def _interruptible(instance_id: str) -> Iterator[None]:
    """Ctrl-C or SIGTERM while driving: the engine kills the running steps'
    process groups and records them as interrupted; say how to go on (the
    KeyboardInterrupt then exits 130)."""
    def on_term(signum: int, frame: FrameType | None) -> None:
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
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
