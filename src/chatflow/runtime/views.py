"""Read-only views of instances for people and tools (what `chatflow
status`, `history`, `run` and `resume` print), computed here so the CLI only
formats them.

    output_tail(outputs, read_artifact=None, max_lines=10) -> OutputTail | None
        the last lines of a failed step's stderr (its stdout when stderr is
        empty), from its fields or, for actions whose fields do not carry
        them (python, agent), from its stored `stderr` / `stdout` files.
    step_output_tail(engine, instance_id, step, outputs) -> OutputTail | None
        the same for a step of a stored instance.
    duration_ms(started_at, finished_at=None, now=None) -> int | None
    latest_instance(store) -> StatusRecord | None
        the most recently updated top-level instance (`status` / `history`
        without an ID).
    status_with_quota(engine, instance_id) -> dict
        the status object (`chatflow status --json`), with `quota` when set.
    quota_view(engine, instance_id, info) -> dict | None
    instance_view(engine, instance_id) -> InstanceView
        the status object, the output tails of its failed steps and, when it
        waits, where it waits and which instance drives it on.
    instance_tree(engine, instance_id) -> TreeNode
        the instance and its sub-flows (`chatflow status --tree`).

`engine` is a `WorkflowEngine` (its `store`, `status` and `state`); these are
reached through its methods of the same names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chatflow.diagnostics import ChatflowError
from chatflow.runtime.store.records import epoch_seconds
from chatflow.runtime.waits import WaitPoint, driver_of, waiting_points

__all__ = [
    "InstanceView",
    "OutputTail",
    "TreeNode",
    "duration_ms",
    "instance_tree",
    "instance_view",
    "latest_instance",
    "output_tail",
    "quota_view",
    "status_with_quota",
    "step_output_tail",
]

TAIL_LINES = 10
MAX_LINE_CHARS = 500
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class OutputTail:
    """The last `lines` of a step's `stream` (of `total` non-empty-ended lines)."""

    stream: str
    lines: tuple[str, ...]
    total: int

    @property
    def cut(self) -> bool:
        return self.total > len(self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {"stream": self.stream, "lines": list(self.lines), "total": self.total}


def _clean(line: str) -> str:
    """A line as a terminal would show it: what follows the last carriage
    return, without escape sequences or other control characters."""
    line = _ANSI.sub("", line.rstrip("\r").rpartition("\r")[2])
    line = _CONTROL.sub("", line).rstrip()
    if len(line) > MAX_LINE_CHARS:
        line = line[:MAX_LINE_CHARS] + "…"
    return line


def _tail_of(stream: str, text: str, max_lines: int) -> OutputTail | None:
    lines = [_clean(x) for x in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        return None
    return OutputTail(stream, tuple(lines[-max_lines:]), len(lines))


def output_tail(outputs: Mapping[str, Any],
                read_artifact: Callable[[str], bytes | None] | None = None,
                max_lines: int = TAIL_LINES) -> OutputTail | None:
    """The last lines of a step's stderr, else of its stdout; None when both
    are empty. A `call` step has none of its own (its child's failed step
    has them)."""
    if "instance_id" in outputs:
        return None
    for stream in ("stderr", "stdout"):
        text = outputs.get(stream)
        if text is None and read_artifact is not None \
                and "stderr" not in outputs and "stdout" not in outputs:
            data = read_artifact(stream)
            text = data.decode("utf-8", "replace") if data else None
        if isinstance(text, str):
            tail = _tail_of(stream, text, max_lines)
            if tail is not None:
                return tail
    return None


def step_output_tail(engine: Any, instance_id: str, step: str,
                     outputs: Mapping[str, Any],
                     max_lines: int = TAIL_LINES) -> OutputTail | None:
    """`output_tail` for a step of a stored instance (its stored files are
    read when its fields do not carry the output)."""
    store = engine.store

    def read(name: str) -> bytes | None:
        try:
            data: bytes = store.get_artifact(instance_id, step, name)
        except (ChatflowError, OSError, KeyError, ValueError):
            return None
        return data

    return output_tail(outputs, read, max_lines)


def duration_ms(started_at: str | None, finished_at: str | None = None,
                now: float | None = None) -> int | None:
    """Milliseconds from `started_at` to `finished_at` (or `now`, for a step
    still running); None when the step never started."""
    import time

    start = epoch_seconds(started_at) if started_at else None
    if start is None:
        return None
    end = epoch_seconds(finished_at) if finished_at else None
    if end is None:
        end = time.time() if now is None else now
    return max(0, int((end - start) * 1000))


def latest_instance(store: Any) -> Any:
    """The most recently updated top-level instance (the one a person ran or
    touched last), or None when the store has none."""
    rows = store.list_instances()
    top = [s for s in rows if not s.parent_instance_id] or rows
    if not top:
        return None
    return max(top, key=lambda s: (s.updated_at, s.created_at, s.instance_id))


# ---------------------------------------------------------------------------- quota and tree


def _own_spent(state: Any) -> dict[str, int]:
    from chatflow.runtime.quota import QUOTA_KEYS

    raw = (state.extra or {}).get("spent") or {}
    return {k: int(raw.get(k, 0) or 0) for k in QUOTA_KEYS}


def quota_view(engine: Any, instance_id: str, info: Mapping[str, Any],
               limits_seen: dict[tuple[str, str], Any] | None = None
               ) -> dict[str, Any] | None:
    """`{"tokens": {"limit", "spent"}, ...}` for the quotas the instance's flow
    sets (None when it sets none). Spending is the instance's tree: its own
    plus its descendants'. Uses the engine's figure (`quota` in the status
    object, or `extra.spent_tree`) when it records one, else sums `extra.spent`
    down the tree; wall time is the instance's elapsed time minus the time it
    waited for people (`wall_ms.waiting_ms`). `limits_seen` keeps each pinned
    flow's limits across calls (a tree of a thousand sub-flows of one flow
    reads its IR once)."""
    if info.get("quota") is not None:
        return dict(info["quota"])
    from chatflow.runtime.quota import Spending, limits_from_settings, quota_status, wall_clock

    store = engine.store
    state = store.load_state(instance_id)
    if state.ir_ref is None:
        return None
    seen_key = (state.ir_ref.sha256, str((state.extra or {}).get("flow_key") or ""))
    if limits_seen is not None and seen_key in limits_seen:
        limits = limits_seen[seen_key]
    else:
        ir = store.load_ir(state.ir_ref)
        flow_key = str((state.extra or {}).get("flow_key") or ir.get("entry"))
        limits = limits_from_settings((ir.get("flows", {}).get(flow_key) or {}).get("settings"))
        if limits_seen is not None:
            limits_seen[seen_key] = limits
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
    clock = wall_clock(str(info.get("created_at") or ""), end,
                       (state.extra or {}).get("waiting"))
    return quota_status(limits, spent.with_wall(max(clock.wall_ms, spent.wall_ms)),
                        clock.waiting_ms)


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


def status_with_quota(engine: Any, instance_id: str,
                      limits_seen: dict[tuple[str, str], Any] | None = None) -> dict[str, Any]:
    """The status object, with `quota` when the flow sets quotas."""
    info: dict[str, Any] = engine.status(instance_id).to_dict()
    quota = quota_view(engine, instance_id, info, limits_seen)
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


def _own_waits(info: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The instance's own waiting steps: `{"step", "gate"[, "message",
    "child_instance_id"]}` (a `child` gate waits on that sub-flow)."""
    out = []
    for name, s in (info.get("steps") or {}).items():
        if s.get("status") != "waiting_approval":
            continue
        w = {"step": name, **(s.get("waiting") or {"gate": "risk"})}
        out.append(w)
    return out


@dataclass(frozen=True, slots=True)
class TreeNode:
    """One instance of a tree (`chatflow status --tree`): `step` is the
    parent's call step that started it, `waiting` its own steps that wait
    (`{"step", "gate", ...}`), `quota` set when its flow sets quotas,
    `children` in the order they were started."""

    instance_id: str
    flow: str
    status: str
    progress: float
    depth: int
    step: str | None
    error: str | None
    waiting: tuple[dict[str, Any], ...]
    quota: dict[str, Any] | None
    children: list[TreeNode]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (`chatflow status --tree --json`)."""
        out: dict[str, Any] = {
            "instance_id": self.instance_id, "flow": self.flow, "status": self.status,
            "progress": self.progress, "depth": self.depth, "step": self.step,
            "error": self.error, "waiting": [dict(w) for w in self.waiting],
        }
        if self.quota:
            out["quota"] = self.quota
        out["children"] = [c.to_dict() for c in self.children]
        return out


def _finished_node(engine: Any, iid: str, step: str | None,
                   limits_seen: dict[tuple[str, str], Any]) -> tuple[TreeNode, bool] | None:
    """A finished instance's node straight from its stored records (no
    instance lock, no flow graph: a fan-out of a thousand finished sub-flows
    is drawn in a fraction of a second), and whether it has children; None
    when the full status is needed (still going, a step waiting, quotas)."""
    store = engine.store
    st = store.load_status(iid)
    if st.status not in ("succeeded", "failed", "cancelled"):
        return None
    state = store.load_state(iid)
    if state.ir_ref is None or any(r.status == "waiting_approval"
                                   for r in state.steps.values()):
        return None
    seen_key = (state.ir_ref.sha256, str((state.extra or {}).get("flow_key") or ""))
    if limits_seen.get(seen_key, True):  # unknown yet, or the flow sets quotas
        return None
    return (TreeNode(iid, st.flow, st.status, st.progress, st.depth, step, st.error,
                     (), None, []), bool(state.children))


def instance_tree(engine: Any, instance_id: str) -> TreeNode:
    """The instance and its sub-flows."""

    limits_seen: dict[tuple[str, str], Any] = {}
    has_children: set[str] = set()

    def node(iid: str, step: str | None) -> TreeNode:
        light = _finished_node(engine, iid, step, limits_seen)
        if light is not None:
            sub, children = light
            if children:
                has_children.add(iid)
            return sub
        info = status_with_quota(engine, iid, limits_seen)
        if info.get("children"):
            has_children.add(iid)
        return TreeNode(iid, info["flow"], info["status"], info["progress"],
                        info.get("depth", 0), step, info.get("error"),
                        tuple(_own_waits(info)), info.get("quota") or None, [])

    root = node(instance_id, None)
    seen = {instance_id}
    todo = [root]
    while todo:
        current = todo.pop()
        if current.instance_id not in has_children:
            continue
        steps = _called_by(engine, current.instance_id)
        for child in _children(engine, current.instance_id):
            if child in seen:  # a corrupt store must not loop forever
                continue
            seen.add(child)
            sub = node(child, steps.get(child))
            current.children.append(sub)
            todo.append(sub)
    return root


@dataclass(frozen=True, slots=True)
class InstanceView:
    """What `chatflow status`, `run` and `resume` show of an instance: the
    status object (`info`, its `--json` form, with `quota` when set), the
    last output lines of each failed step (`tails`), and, when it waits for
    a person, the steps to decide on (`waiting`) and the instance whose
    `resume` drives it on (`driver`)."""

    info: dict[str, Any]
    tails: dict[str, OutputTail]
    waiting: tuple[WaitPoint, ...]
    driver: str

    @property
    def status(self) -> str:
        return str(self.info["status"])


def failure_tails(engine: Any, info: Mapping[str, Any]) -> dict[str, OutputTail]:
    """The last output lines of each failed step (none for cancelled ones)."""
    tails = {}
    for name, s in info["steps"].items():
        if s.get("status") == "failed" and s.get("kind", "step") == "step":
            tail = step_output_tail(engine, info["instance_id"], name, s.get("outputs") or {})
            if tail is not None:
                tails[name] = tail
    return tails


def instance_view(engine: Any, instance_id: str) -> InstanceView:
    """The `InstanceView` of a stored instance."""
    info = status_with_quota(engine, instance_id)
    waiting: tuple[WaitPoint, ...] = ()
    driver = instance_id
    if info["status"] == "waiting_approval":
        waiting = tuple(waiting_points(engine.store, instance_id))
        driver = driver_of(engine.store, instance_id)
    return InstanceView(info, failure_tails(engine, info), waiting, driver)
