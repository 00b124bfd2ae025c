"""How the runtime's views are printed for people: progress lines while a
flow runs, the status text, the sub-flow tree, and what to do next when an
instance waits for a person.

Formatting only: the views (output tails, durations, where a tree waits,
which instance drives on) are `WorkflowEngine` methods returning typed
records (`chatflow.runtime.api`). Text goes where the caller says; colour only on a
terminal (and never with NO_COLOR), and lines are never wrapped by us: a
terminal wraps them itself, a file or pipe gets them whole.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

__all__ = [
    "Progress",
    "next_steps_text",
    "print_tree",
    "render_tree_text",
    "status_text",
    "tail_text",
    "tree_label",
]

PATH_SEP = " \u203a "
"""Between a call step's name and its sub-flow's step (U+203A, a single angle quote)."""

_MARKS = {"succeeded": "✔", "failed": "✘", "skipped": "↷", "cancelled": "⊘"}
_STATUS_STYLE = {"succeeded": "green", "failed": "red", "cancelled": "dim",
                 "running": "cyan", "waiting_approval": "yellow"}


def _ms(value: Any) -> str:
    from chatflow.runtime.quota import format_amount

    return format_amount("wall_ms", int(value))


def tail_text(tail: Any, step: str, indent: str = "  ") -> list[str]:
    """A failed step's last output lines, then where they come from."""
    lines = [f"{indent}│ {line}" for line in tail.lines]
    what = f"last {len(tail.lines)} of {tail.total} lines of " if tail.cut else ""
    lines.append(f"{indent}└ ({what}{step}'s {tail.stream})")
    return lines


class Progress:
    """The event sink of `chatflow run` / `resume`: one line per event on
    stderr; a failed step's last output lines under it; events of sub-flows
    prefixed with their call steps' names (PATH_SEP between them)."""

    def __init__(self, engine: Any = None, instance_id: str | None = None,
                 quiet: bool = False, stream: TextIO | None = None) -> None:
        self.engine = engine
        self.instance_id = instance_id
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.shown: set[tuple[str | None, str]] = set()
        """(instance, step) of every failure whose output lines were printed."""
        self.console: Any = None
        if self._is_terminal():
            try:
                from rich.console import Console

                self.console = Console(file=self.stream, highlight=False,
                                       no_color="NO_COLOR" in os.environ)
            except ImportError:  # pragma: no cover - rich ships with the CLI
                self.console = None

    def _is_terminal(self) -> bool:
        try:
            return bool(self.stream.isatty())
        except (AttributeError, ValueError):
            return False

    def line(self, text: str, style: str = "") -> None:
        if self.quiet:
            return
        if self.console is not None:
            self.console.print(text, style=style or None, markup=False, soft_wrap=True)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def __call__(self, etype: str, step: str | None, data: Mapping[str, Any]) -> None:
        sub = data.get("subflow") or {}
        path = list(sub.get("path") or ())
        name = PATH_SEP.join([*path, step] if step else path)
        if etype == "step_started":
            what = data.get("command") or data.get("agent") or data.get("target") \
                or data.get("flow") or ""
            notes = []
            attempt = data.get("attempt", 1)
            if attempt and attempt > 1:
                notes.append(f"attempt {attempt}")
            if data.get("iteration"):
                notes.append(f"iteration {data['iteration']}")
            if data.get("resumed"):
                notes.append("resumed")
            tries = f" ({', '.join(notes)})" if notes else ""
            self.line(f"▶ {name}{tries} {what}{bindings_note(data.get('bindings'))}".rstrip(),
                      "cyan")
        elif etype == "step_completed":
            self._completed(name, step, data, sub)
        elif etype == "step_waiting_approval":
            if data.get("gate") == "child":
                child = data.get("child_instance_id") or ""
                self.line(f"⏸ {name}: its sub-flow {child} waits".rstrip(), "yellow")
            else:
                reason = data.get("message") or data.get("gate")
                self.line(f"⏸ {name} waits for approval ({reason})", "yellow")
        elif etype == "step_retrying":
            self.line(f"↻ {name} failed ({data.get('error')}); retrying in "
                      f"{data.get('delay_ms', 0)} ms", "yellow")
        elif etype == "step_interrupted":
            self.line(f"! {name} was interrupted ({data.get('action')})", "yellow")
        elif etype == "group_started" and data.get("kind") == "repeat" \
                and int(data.get("iteration") or 1) > 1:
            self.line(f"↻ {name} iteration {data['iteration']}", "cyan")
        elif etype == "group_completed" and "iterations" in (data.get("outputs") or {}):
            st = str(data.get("status"))
            n = data["outputs"]["iterations"]
            err = f": {data['error']}" if data.get("error") else ""
            self.line(f"{_MARKS.get(st, '•')} {name} {st} after {n} iteration"
                      f"{'s' if n != 1 else ''}{err}", _STATUS_STYLE.get(st, "dim"))
        elif etype == "instance_completed" and not path:
            self.line(f"■ instance {data.get('status')}", "bold")

    def _completed(self, name: str, step: str | None, data: Mapping[str, Any],
                   sub: Mapping[str, Any]) -> None:
        st = str(data.get("status"))
        err = f": {data['error']}" if data.get("error") and st == "failed" else ""
        it = f" (iteration {data['iteration']})" if data.get("iteration") else ""
        self.line(f"{_MARKS.get(st, '•')} {name} {st}{it}{err}",
                  {"succeeded": "green", "failed": "red"}.get(st, "dim"))
        if st != "failed" or step is None or self.quiet:
            return
        iid = sub.get("instance_id") or self.instance_id
        tail = self._tail(iid, step, data.get("outputs") or {})
        if tail is not None:
            self.shown.add((iid, step))
            *lines, source = tail_text(tail, name)
            for line in lines:
                self.line(line)
            self.line(source, "dim")

    def _tail(self, instance_id: str | None, step: str, outputs: Mapping[str, Any]) -> Any:
        from chatflow.runtime.views import output_tail

        try:
            if self.engine is None or instance_id is None:
                return output_tail(outputs)
            return self.engine.output_tail(instance_id, step, outputs)
        except Exception:  # a display problem must never break a run
            return None


# ---------------------------------------------------------------------------- status


def _step_row(name: str, s: Mapping[str, Any], width: int) -> str:
    kind = s.get("kind", "step")
    cells = [f"  {name:<{width}}", f"{s['status']:<17}"]
    cells.append(f"attempts {s['attempts']}" if kind == "step" else " " * 10)
    cells.append(f"{_ms(s['duration_ms']):>8}" if s.get("duration_ms") is not None
                 else f"{'-':>8}")
    notes = []
    if kind == "repeat" and "iterations" in (s.get("outputs") or {}):
        n = s["outputs"]["iterations"]
        notes.append(f"{n} iteration{'s' if n != 1 else ''}")
    elif s.get("iterations"):
        notes.append(f"iteration {len(s['iterations'])}")
    if s.get("in_doubt"):
        notes.append("in doubt")
    waiting = s.get("waiting") or {}
    if waiting.get("gate") == "child":
        notes.append(f"waits for its sub-flow {waiting.get('child_instance_id', '')}".rstrip())
    elif waiting.get("message"):
        notes.append(f"⏸ {waiting['message']}")
    if s.get("error") and s["status"] in ("failed", "cancelled"):
        notes.append(str(s["error"]))
    return "  ".join([*cells, *notes]).rstrip()


def status_text(d: Mapping[str, Any], tails: Mapping[str, Any] | None = None) -> str:
    """The status object as text: a header, the error, one row per step (its
    status, attempts, duration, iterations, error; a failed step's last
    output lines under it), the outputs and the quota table."""
    head = (f"instance {d['instance_id']}  flow {d['flow']}  status {d['status']}  "
            f"progress {round(float(d['progress']) * 100)}%")
    if d.get("waiting_ms"):
        verb = "waiting" if d["status"] == "waiting_approval" else "waited"
        head += f"  {verb} for people {_ms(d['waiting_ms'])}"
    lines = [head]
    if d.get("feature_id"):
        lines.append(f"feature {d['feature_id']}")
    if d.get("error"):
        lines.append(f"error: {d['error']}")
    steps = d["steps"]
    width = max([24, *(len(n) for n in steps)])
    for name, s in steps.items():
        lines.append(_step_row(name, s, width))
        tail = (tails or {}).get(name)
        if tail is not None:
            lines.extend(tail_text(tail, name, " " * (width + 4)))
    if d.get("outputs"):
        lines.append("outputs: " + json.dumps(d["outputs"], ensure_ascii=False))
    for name, why in (d.get("output_errors") or {}).items():
        lines.append(f"output `{name}` not bound: {why}")
    if d.get("quota"):
        lines.append("quota (this instance and its sub-flows):")
        lines.extend("  " + row for row in _quota_rows(d["quota"]))
    return "\n".join(lines) + "\n"


def _quota_rows(quota: Mapping[str, Any]) -> list[str]:
    from chatflow.runtime.quota import QUOTA_KEYS, QuotaLimits, Spending, render_quota_table

    alias = {"cpu": "cpu_ms", "wall": "wall_ms"}
    q = {alias.get(k, k): v for k, v in quota.items()
         if alias.get(k, k) in QUOTA_KEYS and isinstance(v, Mapping)}
    limits = QuotaLimits(**{k: int(v.get("limit") or 0) for k, v in q.items()})
    spent = Spending(**{k: int(v.get("spent") or 0) for k, v in q.items()})
    waiting = int((q.get("wall_ms") or {}).get("waiting_ms") or 0)
    return render_quota_table(limits, spent, waiting).splitlines()


def next_steps_text(points: list[Any], driver: str) -> str:
    """What a person does for an instance that waits: the `approve` command
    for each step that waits (in a sub-flow: the sub-flow's instance), then
    the `resume` of the instance that drives the tree on."""
    lines = []
    for p in points:
        if not p.decidable:
            continue
        via = f"  (in {PATH_SEP.join(p.path)})" if p.path else ""
        what = f"  \"{p.message}\"" if p.message else ""
        verb = "approve (re-run) or reject" if p.gate == "in_doubt" else "approve with"
        lines.append(f"  {verb}: chatflow approve {p.instance_id} {p.step}{what}{via}")
    prefix = "then continue" if lines else "continue"
    lines.append(f"  {prefix} with: chatflow resume {driver}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- tree


def tree_label(n: Mapping[str, Any]) -> str:
    """One tree node as text: `[step] id  flow  status  NN%  quota...  ⏸ waits`."""
    from chatflow.runtime.quota import format_amount

    head = f"{n['step']}: {n['instance_id']}" if n.get("step") else str(n["instance_id"])
    parts = [head, str(n["flow"]), str(n["status"]), f"{round(float(n['progress']) * 100)}%"]
    for key, q in (n.get("quota") or {}).items():
        name = {"cpu_ms": "cpu", "wall_ms": "wall"}.get(key, key)
        unit = {"cpu": "cpu_ms", "wall": "wall_ms"}.get(key, key)
        parts.append(f"{name} {format_amount(unit, int(q.get('spent') or 0))}/"
                     f"{format_amount(unit, int(q.get('limit') or 0))}")
    for w in n.get("waiting") or ():
        if w.get("gate") == "child":
            parts.append(f"⏸ {w['step']} (its sub-flow waits)")
        else:
            msg = f" \"{w['message']}\"" if w.get("message") else f" ({w.get('gate')})"
            parts.append(f"⏸ {w['step']}{msg}")
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


def print_tree(root: Mapping[str, Any]) -> None:
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
    Console(highlight=False, no_color="NO_COLOR" in os.environ).print(tree)


BINDING_SHOWN = 60
"""Longest value a progress line shows in full (the history has all of it)."""


def bindings_note(bindings: Any) -> str:
    """`  · cf_n=3, cf_name="x y"`: the values a `shell` step's environment
    variables carry, as JSON text, each cut to `BINDING_SHOWN` characters."""
    if not isinstance(bindings, Mapping) or not bindings:
        return ""
    shown = []
    for key, value in bindings.items():
        text = json.dumps(value, ensure_ascii=False)
        if len(text) > BINDING_SHOWN:
            text = text[:BINDING_SHOWN - 1] + "…"
        shown.append(f"{key}={text}")
    return "  · " + ", ".join(shown)
