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

from chatflow.diagnostics import ChatflowError

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
            code = exc.exit_code
            from chatflow.runtime.store.base import InstanceNotFound

            if isinstance(exc, InstanceNotFound):
                code = EXIT_USAGE
            if exc.diagnostics:
                _print_diagnostics(exc.diagnostics, getattr(exc, "sources", {}))
            sys.stderr.write(f"error: {exc.message}\n")
            raise typer.Exit(code) from None

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
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


# ---------------------------------------------------------------------------- inputs


def parse_input_value(name: str, raw: str, type_str: str) -> Any:
    """A `-i NAME=VALUE` value read per the param's declared type."""
    base = type_str[:-1] if type_str.endswith("?") else type_str
    if type_str.endswith("?") and raw == "null":
        return None
    try:
        if base == "str":
            return raw
        if base == "int":
            return int(raw.replace("_", ""))
        if base == "float":
            return float(raw.replace("_", ""))
        if base == "bool":
            low = raw.strip().lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if base == "duration":
            return _duration_ms(raw)
        value = json.loads(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        raise ChatflowError(f"input `{name}`: cannot read {raw!r} as {type_str} ({exc})",
                            exit_code=EXIT_USAGE) from None
    from chatflow.runtime.values import check_type

    if not check_type(value, type_str):
        raise ChatflowError(f"input `{name}`: {raw!r} is not a {type_str}",
                            exit_code=EXIT_USAGE)
    return value


def _duration_ms(raw: str) -> int:
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    text = raw.strip()
    for suffix in ("ms", "s", "m", "h", "d"):
        if text.endswith(suffix) and text[: -len(suffix)].replace("_", "").isdigit():
            return int(text[: -len(suffix)].replace("_", "")) * units[suffix]
    return int(text)


def parse_inputs(pairs: list[str], flow: Mapping[str, Any]) -> dict[str, Any]:
    types = {p["name"]: p["type"] for p in flow.get("params", [])}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise ChatflowError(f"-i expects NAME=VALUE, got {pair!r}", exit_code=EXIT_USAGE)
        if name not in types:
            known = ", ".join(types) or "none"
            raise ChatflowError(f"unknown input `{name}` (the flow's params: {known})",
                                exit_code=EXIT_USAGE)
        out[name] = parse_input_value(name, raw, types[name])
    return out


# ---------------------------------------------------------------------------- progress


class Progress:
    """One line per event on stderr (rich when available)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.console: Any = None
        try:
            from rich.console import Console

            self.console = Console(stderr=True, highlight=False)
        except ImportError:  # pragma: no cover
            self.console = None

    def line(self, text: str, style: str = "") -> None:
        if self.quiet:
            return
        if self.console is not None:
            self.console.print(text, style=style or None, markup=False)
        else:  # pragma: no cover
            sys.stderr.write(text + "\n")

    def __call__(self, etype: str, step: str | None, data: Mapping[str, Any]) -> None:
        if etype == "step_started":
            what = data.get("command") or data.get("agent") or data.get("target") \
                or data.get("flow") or ""
            attempt = data.get("attempt", 1)
            tries = f" (attempt {attempt})" if attempt and attempt > 1 else ""
            self.line(f"▶ {step}{tries} {what}".rstrip(), "cyan")
        elif etype == "step_completed":
            st = data.get("status")
            mark = {"succeeded": "✔", "failed": "✘", "skipped": "↷", "cancelled": "⊘"}.get(
                str(st), "•")
            style = {"succeeded": "green", "failed": "red"}.get(str(st), "dim")
            err = f": {data['error']}" if data.get("error") and st == "failed" else ""
            self.line(f"{mark} {step} {st}{err}", style)
        elif etype == "step_waiting_approval":
            why = data.get("message") or data.get("gate")
            self.line(f"⏸ {step} waits for approval ({why})", "yellow")
        elif etype == "step_retrying":
            self.line(f"↻ {step} failed ({data.get('error')}); retrying in "
                      f"{data.get('delay_ms', 0)} ms", "yellow")
        elif etype == "step_interrupted":
            self.line(f"! {step} was interrupted ({data.get('action')})", "yellow")
        elif etype == "instance_completed":
            self.line(f"■ instance {data.get('status')}", "bold")


def _summary(engine: Any, instance_id: str, as_json: bool) -> int:
    info = engine.status(instance_id)
    if as_json:
        _out(status_with_quota(engine, instance_id))
    else:
        sys.stderr.write(_status_text(status_with_quota(engine, instance_id)))
        if info.status == "waiting_approval":
            waiting = [n for n, s in info.steps.items() if s.status == "waiting_approval"]
            for step in waiting:
                sys.stderr.write(f"  approve with: chatflow approve {instance_id} {step}\n")
            sys.stderr.write(f"  then continue with: chatflow resume {instance_id}\n")
    return _exit_for(info.status)


def _status_text(d: Mapping[str, Any]) -> str:
    lines = [f"instance {d['instance_id']}  flow {d['flow']}  status {d['status']}  "
             f"progress {round(float(d['progress']) * 100)}%"]
    if d.get("feature_id"):
        lines.append(f"feature {d['feature_id']}")
    if d.get("error"):
        lines.append(f"error: {d['error']}")
    for name, s in d["steps"].items():
        extra = " (in doubt)" if s.get("in_doubt") else ""
        lines.append(f"  {name:<24} {s['status']:<17} attempts {s['attempts']}{extra}")
    if d.get("outputs"):
        lines.append("outputs: " + json.dumps(d["outputs"], ensure_ascii=False))
    if d.get("quota"):
        from chatflow.runtime.quota import QUOTA_KEYS, QuotaLimits, Spending, render_quota_table

        alias = {"cpu": "cpu_ms", "wall": "wall_ms"}
        q = {alias.get(k, k): v for k, v in d["quota"].items()
             if alias.get(k, k) in QUOTA_KEYS and isinstance(v, Mapping)}
        limits = QuotaLimits(**{k: int(v.get("limit") or 0) for k, v in q.items()})
        spent = Spending(**{k: int(v.get("spent") or 0) for k, v in q.items()})
        lines.append("quota (this instance and its sub-flows):")
        lines.extend("  " + row for row in render_quota_table(limits, spent).splitlines())
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- quota and tree

def _own_spent(state: Any) -> dict[str, int]:
    from chatflow.runtime.quota import QUOTA_KEYS

    raw = (state.extra or {}).get("spent") or {}
    return {k: int(raw.get(k, 0) or 0) for k in QUOTA_KEYS}


def quota_view(engine: Any, instance_id: str, info: Mapping[str, Any]) -> dict[str, Any] | None:
    """`{"tokens": {"limit", "spent"}, ...}` for the quotas the instance's flow
    sets (None when it sets none). Spending is the instance's tree: its own
    plus its descendants'. Uses the engine's figure (`quota` in the status
    object, or `extra.spent_tree`) when it records one, else sums `extra.spent`
    down the tree; wall time is the instance's elapsed time."""
    if info.get("quota") is not None:
        return dict(info["quota"])
    from chatflow.runtime.quota import (
        Spending,
        elapsed_ms,
        epoch_seconds,
        limits_from_settings,
        quota_status,
    )

    store = engine.store
    state = store.load_state(instance_id)
    if state.ir_ref is None:
        return None
    ir = store.load_ir(state.ir_ref)
    flow_key = str((state.extra or {}).get("flow_key") or ir.get("entry"))
    limits = limits_from_settings((ir.get("flows", {}).get(flow_key) or {}).get("settings"))
    if not limits:
        return None
    tree_spent = (state.extra or {}).get("spent_tree")
    if tree_spent is not None:
        spent = Spending.from_dict(tree_spent)
    else:
        spent = Spending.from_dict(_own_spent(state))
        for child in _descendants(engine, instance_id):
            spent = spent + Spending.from_dict(_own_spent(store.load_state(child)))
    end = None
    if info.get("status") in ("succeeded", "failed", "cancelled"):
        end = epoch_seconds(str(info.get("updated_at") or ""))
    wall = elapsed_ms(str(info.get("created_at") or ""), end)
    return quota_status(limits, spent.with_wall(max(wall, spent.wall_ms)))


def _children(engine: Any, instance_id: str) -> list[str]:
    return [c for c in engine.state(instance_id).children if engine.store.exists(c)]


def _descendants(engine: Any, instance_id: str) -> list[str]:
    seen = {instance_id}
    out: list[str] = []
    todo = [instance_id]
    while todo:
        for child in _children(engine, todo.pop()):
            if child not in seen:
                seen.add(child)
                out.append(child)
                todo.append(child)
    return out


def status_with_quota(engine: Any, instance_id: str) -> dict[str, Any]:
    """The status object, with `quota` when the flow sets quotas."""
    info: dict[str, Any] = engine.status(instance_id).to_dict()
    quota = quota_view(engine, instance_id, info)
    if quota:
        info["quota"] = quota
    else:
        info.pop("quota", None)
    return info


def _called_by(engine: Any, parent_id: str) -> dict[str, str]:
    """child instance id → the parent's call step that started it."""
    out: dict[str, str] = {}
    for name, rec in engine.state(parent_id).step_results.items():
        rounds = [rec, *(rec.get("iterations") or [])]
        for r in rounds:
            if not isinstance(r, Mapping):
                continue
            for where in (r.get("extra") or {}, r.get("outputs") or {}):
                child = where.get("child_instance_id") or where.get("instance_id")
                if isinstance(child, str):
                    out.setdefault(child, name)
    return out


def instance_tree(engine: Any, instance_id: str) -> dict[str, Any]:
    """The instance and its sub-flows as nested dicts: instance_id, flow,
    status, progress, depth, step (the parent's call step), error, quota
    (when set) and children (in the order they were started)."""

    def node(iid: str, step: str | None) -> dict[str, Any]:
        info = status_with_quota(engine, iid)
        n: dict[str, Any] = {
            "instance_id": iid, "flow": info["flow"], "status": info["status"],
            "progress": info["progress"], "depth": info.get("depth", 0), "step": step,
            "error": info.get("error"),
        }
        if info.get("quota"):
            n["quota"] = info["quota"]
        n["children"] = []
        return n

    root = node(instance_id, None)
    seen = {instance_id}
    todo = [root]
    while todo:
        current = todo.pop()
        steps = _called_by(engine, current["instance_id"])
        for child in _children(engine, current["instance_id"]):
            if child in seen:  # a corrupt store must not loop forever
                continue
            seen.add(child)
            sub = node(child, steps.get(child))
            current["children"].append(sub)
            todo.append(sub)
    return root


_STATUS_STYLE = {"succeeded": "green", "failed": "red", "cancelled": "dim",
                 "running": "cyan", "waiting_approval": "yellow"}


def tree_label(n: Mapping[str, Any]) -> str:
    """One tree node as text: `[step] id  flow  status  NN%  quota...`."""
    from chatflow.runtime.quota import format_amount

    head = f"{n['step']}: {n['instance_id']}" if n.get("step") else str(n["instance_id"])
    parts = [head, str(n["flow"]), str(n["status"]), f"{round(float(n['progress']) * 100)}%"]
    for key, q in (n.get("quota") or {}).items():
        name = {"cpu_ms": "cpu", "wall_ms": "wall"}.get(key, key)
        unit = {"cpu": "cpu_ms", "wall": "wall_ms"}.get(key, key)
        parts.append(f"{name} {format_amount(unit, int(q.get('spent') or 0))}/"
                     f"{format_amount(unit, int(q.get('limit') or 0))}")
    if n.get("error") and n.get("status") in ("failed", "cancelled"):
        parts.append(f"({n['error']})")
    return "  ".join(parts)


def render_tree_text(root: Mapping[str, Any]) -> str:
    """The tree in plain text with box-drawing connectors."""
    lines = [tree_label(root)]

    def walk(n: Mapping[str, Any], prefix: str) -> None:
        kids = list(n.get("children") or [])
        for i, child in enumerate(kids):
            last = i == len(kids) - 1
            lines.append(prefix + ("└── " if last else "├── ") + tree_label(child))
            walk(child, prefix + ("    " if last else "│   "))

    walk(root, "")
    return "\n".join(lines) + "\n"


def _print_tree(root: Mapping[str, Any]) -> None:
    """Rich tree on a terminal, plain text otherwise."""
    if not sys.stdout.isatty():
        sys.stdout.write(render_tree_text(root))
        return
    try:
        from rich.console import Console
        from rich.text import Text
        from rich.tree import Tree
    except ImportError:  # pragma: no cover - rich ships with the CLI
        sys.stdout.write(render_tree_text(root))
        return

    def label(n: Mapping[str, Any]) -> Text:
        return Text(tree_label(n), style=_STATUS_STYLE.get(str(n.get("status")), ""))

    tree = Tree(label(root))
    todo: list[tuple[Any, Mapping[str, Any]]] = [(tree, root)]
    while todo:
        branch, n = todo.pop(0)
        for child in n.get("children") or []:
            todo.append((branch.add(label(child)), child))
    Console(highlight=False).print(tree)


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

        ir = compile_flow(target)
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
        started = engine.start_workflow_instance(ir, inputs=values, feature_id=feature,
                                                 automation_level=automation)
        progress = Progress()
        progress.line(f"started {started.instance_id} ({started.flow}, automation "
                      f"{started.automation})", "bold")
        with _interruptible(started.instance_id):
            engine.run_until_blocked(started.instance_id, on_event=progress)
        raise typer.Exit(_summary(engine, started.instance_id, as_json))

    @app.command("resume")
    @_guarded
    def resume_cmd(instance_id: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)],
                   state: StateOpt = None, as_json: JsonOpt = False) -> None:
        """Drive an instance on (after an approval, a crash or Ctrl-C)."""
        engine = _engine(state)
        _check_damage(engine, instance_id, repair=True)
        engine.status(instance_id)
        with _interruptible(instance_id):
            engine.resume(instance_id, on_event=Progress())
        raise typer.Exit(_summary(engine, instance_id, as_json))

    @app.command("status")
    @_guarded
    def status_cmd(instance_id: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)],
                   tree: Annotated[bool, typer.Option(
                       "--tree", help="Draw the instance and its sub-flows as a tree.")] = False,
                   state: StateOpt = None, as_json: JsonOpt = False) -> None:
        """Show an instance's status and its steps (or, with --tree, its sub-flows)."""
        engine = _engine(state)
        _check_damage(engine, instance_id)
        if tree:
            root = instance_tree(engine, instance_id)
            if as_json:
                _out(root)
            else:
                _print_tree(root)
            return
        info = status_with_quota(engine, instance_id)
        if as_json:
            _out(info)
        else:
            sys.stdout.write(_status_text(info))

    @app.command("list")
    @_guarded
    def list_cmd(feature: Annotated[str | None, typer.Option(
                     "--feature", metavar="ID",
                     help="Only the instances filed under this feature id.")] = None,
                 state: StateOpt = None, as_json: JsonOpt = False) -> None:
        """List instances (of one feature)."""
        rows = _engine(state).list_instances(feature)
        if as_json:
            _out(rows)
            return
        for r in rows:
            sys.stdout.write(f"{r['instance_id']}  {r['flow']:<16} {r['status']:<17} "
                             f"{round(float(r['progress']) * 100):>3}%  "
                             f"{r['feature_id'] or ''}\n")

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
            sys.stderr.write(f"continue with: chatflow resume {instance_id}\n")
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
    def history_cmd(instance_id: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)],
                    state: StateOpt = None,
                    as_json: Annotated[bool, typer.Option(
                        "--json", help="One JSON object per line (ndjson).")] = False) -> None:
        """Print an instance's history, one event per line."""
        engine = _engine(state)
        _check_damage(engine, instance_id)
        for ev in engine.history(instance_id):
            if as_json:
                sys.stdout.write(json.dumps(ev.to_dict(), ensure_ascii=False,
                                            default=str) + "\n")
            else:
                brief = {k: v for k, v in ev.data.items() if k in (
                    "status", "attempt", "gate", "by", "error", "command", "message")}
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
        from chatflow.runtime.api import WorkflowEngine, check_instance_id
        from chatflow.runtime.config import resolve_state_url
        from chatflow.runtime.store import open_store

        check_instance_id(instance_id)
        url = resolve_state_url(state, Path.cwd())
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
    instance's lock so no commit is half-written meanwhile."""
    from chatflow.runtime.api import check_instance_id
    from chatflow.runtime.store.base import InstanceNotFound

    check_instance_id(instance_id)
    store = engine.store
    try:
        if not store.exists(instance_id):
            return  # the command itself reports the unknown id
        with store.lock(instance_id) if repair else contextlib.nullcontext():
            problems = store.check(instance_id)
            if problems and repair and all(p.repairable for p in problems):
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
    if problems:
        for p in problems:
            sys.stderr.write(f"warning: damaged: {p}\n")
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
