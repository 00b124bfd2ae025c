"""Public typed records the workflow engine returns (and their JSON shapes).

These are plain dataclasses: the engine builds them from the instance state it
keeps in the state store; the CLI prints their `to_dict()` forms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Step states (docs/language.md §8).
PENDING = "pending"
READY = "ready"
WAITING_APPROVAL = "waiting_approval"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"
CANCELLED = "cancelled"

STEP_FINISHED = frozenset({SUCCEEDED, FAILED, SKIPPED, CANCELLED})
INSTANCE_FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})


@dataclass(frozen=True, slots=True)
class WorkflowStartResult:
    """What `start_workflow_instance` returns."""

    instance_id: str
    flow: str
    status: str
    feature_id: str | None
    automation: int
    parent_instance_id: str | None = None
    depth: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "flow": self.flow,
            "status": self.status,
            "feature_id": self.feature_id,
            "automation": self.automation,
            "parent_instance_id": self.parent_instance_id,
            "depth": self.depth,
        }


@dataclass(frozen=True, slots=True)
class StepInfo:
    """One step's (or group's) public state."""

    status: str
    attempts: int
    outputs: dict[str, Any]
    kind: str = "step"
    in_doubt: bool = False
    error: str | None = None
    iterations: list[dict[str, Any]] | None = None
    """Inside a `repeat`: one entry per iteration run so far (the last is
    the current record): {"iteration", "status", "attempts", "outputs"[, "error"]}."""
    started_at: str | None = None
    finished_at: str | None = None
    duration_ms: int | None = None
    """From its start to its end (to now while it runs); None if it never ran."""
    waiting: dict[str, Any] | None = None
    """While it waits for a person: {"gate"[, "message", "child_instance_id"]};
    gate `child`: a `call` step whose sub-flow waits (decide on the sub-flow's step)."""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "status": self.status,
            "attempts": self.attempts,
            "outputs": self.outputs,
        }
        if self.kind != "step":
            d["kind"] = self.kind
        if self.in_doubt:
            d["in_doubt"] = True
        if self.error:
            d["error"] = self.error
        if self.iterations is not None:
            d["iterations"] = [dict(i) for i in self.iterations]
        if self.started_at is not None:
            d["started_at"] = self.started_at
        if self.finished_at is not None:
            d["finished_at"] = self.finished_at
        if self.duration_ms is not None:
            d["duration_ms"] = self.duration_ms
        if self.waiting is not None:
            d["waiting"] = dict(self.waiting)
        return d


@dataclass(frozen=True, slots=True)
class WorkflowStatusInfo:
    """The status object (`chatflow status --json`)."""

    instance_id: str
    flow: str
    status: str
    progress: float
    feature_id: str | None
    outputs: dict[str, Any]
    steps: dict[str, StepInfo]
    current_steps: list[str] = field(default_factory=list)
    automation: int = 100
    parent_instance_id: str | None = None
    depth: int = 0
    error: str | None = None
    created_at: str = ""
    updated_at: str = ""
    quota: dict[str, dict[str, int]] | None = None
    """Spending of this instance's tree against each quota its flow sets:
    {"tokens": {"limit": L, "spent": S}, ...}; None without quotas."""
    children: list[str] = field(default_factory=list)
    waiting_ms: int = 0
    """Time the instance waited for a person (not counted by the `wall` quota)."""
    output_errors: dict[str, str] = field(default_factory=dict)
    """A finished instance's declared outputs that are not bound, and why (an
    output is bound only to a value of its declared type)."""

    def to_dict(self) -> dict[str, Any]:
        d = {
            "instance_id": self.instance_id,
            "flow": self.flow,
            "status": self.status,
            "progress": self.progress,
            "feature_id": self.feature_id,
            "outputs": self.outputs,
            "steps": {name: s.to_dict() for name, s in self.steps.items()},
            "current_steps": list(self.current_steps),
            "automation": self.automation,
            "parent_instance_id": self.parent_instance_id,
            "depth": self.depth,
            "children": list(self.children),
            "error": self.error,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "waiting_ms": self.waiting_ms,
        }
        if self.output_errors:
            d["output_errors"] = dict(self.output_errors)
        if self.quota is not None:
            d["quota"] = {k: dict(v) for k, v in self.quota.items()}
        return d


@dataclass(frozen=True, slots=True)
class StepResult:
    """One step's (or group's) stored result, for `WorkflowState.steps`."""

    name: str
    status: str
    attempts: int
    outputs: dict[str, Any]
    error: str | None = None
    iterations: list[dict[str, Any]] = field(default_factory=list)
    """Inside a `repeat`: every iteration's result, first to last
    (`iterations[k]` is iteration k + 1); empty elsewhere."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "attempts": self.attempts,
                "outputs": self.outputs, "error": self.error,
                "iterations": [dict(i) for i in self.iterations]}


@dataclass(frozen=True, slots=True)
class WorkflowState:
    """An instance's data: inputs, variables, step results."""

    instance_id: str
    inputs: dict[str, Any]
    variables: dict[str, Any]
    step_results: dict[str, dict[str, Any]]
    outputs: dict[str, Any]
    parent_instance_id: str | None = None
    children: list[str] = field(default_factory=list)
    recursion_depth: int = 0
    steps: dict[str, StepResult] = field(default_factory=dict)
    spent: dict[str, int] = field(default_factory=dict)       # this instance alone
    spent_tree: dict[str, int] = field(default_factory=dict)  # with its descendants

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": {n: r.to_dict() for n, r in self.steps.items()},
            "spent": dict(self.spent),
            "spent_tree": dict(self.spent_tree),
            "instance_id": self.instance_id,
            "inputs": self.inputs,
            "variables": self.variables,
            "step_results": self.step_results,
            "outputs": self.outputs,
            "parent_instance_id": self.parent_instance_id,
            "children": list(self.children),
            "recursion_depth": self.recursion_depth,
        }


@dataclass(frozen=True, slots=True)
class WorkflowInstanceState:
    """What one `trigger_next_step` / `run_until_blocked` call did and where the
    instance is now."""

    instance_id: str
    status: str
    progress: float
    ran: list[str]
    waiting: list[str]
    running_elsewhere: list[str] = field(default_factory=list)
    plan: list[dict[str, Any]] | None = None

    @property
    def finished(self) -> bool:
        return self.status in INSTANCE_FINISHED

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "instance_id": self.instance_id,
            "status": self.status,
            "progress": self.progress,
            "ran": list(self.ran),
            "waiting": list(self.waiting),
            "running_elsewhere": list(self.running_elsewhere),
        }
        if self.plan is not None:
            d["plan"] = self.plan
        return d


@dataclass(frozen=True, slots=True)
class WorkflowHistoryEvent:
    """One history event (`chatflow history --json` prints one per line)."""

    seq: int
    type: str
    ts: str
    step: str | None
    data: dict[str, Any]

    @property
    def timestamp(self) -> str:
        return self.ts

    @classmethod
    def of(cls, ev: Any) -> WorkflowHistoryEvent:
        """The public record of a stored `HistoryEvent`."""
        return cls(ev.seq, ev.type, ev.ts, ev.step, dict(ev.data))

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.type, "ts": self.ts, "step": self.step,
                "data": self.data}
