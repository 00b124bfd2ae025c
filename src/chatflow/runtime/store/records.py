"""Typed records a `StateStore` reads and writes, and their JSON shapes.

Every record is a frozen dataclass with `to_json()` / `from_json()`; the JSON
forms are what the file backend writes to disk and what the SQL backends put
in their JSON columns, so all backends share one encoding.  `apply_change`
is the one function that turns (state, change) into the next state: every
backend replays its journal with it.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FORMAT_VERSION = 2
"""The store format this code writes (docs/state-stores.md)."""

INSTANCE_STATUSES = ("running", "waiting_approval", "succeeded", "failed", "cancelled")
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")
_STEP_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,199}$")


_second: tuple[int, str] = (-1, "")


def utc_now() -> str:
    """An ISO-8601 UTC timestamp with microseconds, e.g. `2024-05-01T12:00:00.000001Z`."""
    global _second
    sec, ns = divmod(time.time_ns(), 1_000_000_000)
    cached = _second
    if cached[0] != sec:   # format the date and time once per second (4 calls a step)
        cached = _second = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
    return f"{cached[1]}.{ns // 1000:06d}Z"


def epoch_seconds(iso: str) -> float | None:
    """Seconds since the epoch of an ISO-8601 timestamp (`utc_now`'s `...Z` or
    an offset); None if unreadable. The one parser of the timestamps stores keep."""
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


def is_valid_instance_id(instance_id: str) -> bool:
    return bool(_ID_RE.match(instance_id)) and ".." not in instance_id


def is_valid_step_name(step: str) -> bool:
    return bool(_STEP_RE.match(step)) and ".." not in step


def canonical_json(doc: Any) -> str:
    """The canonical serialisation of an IR document (docs/ir.md): the very
    bytes `chatflow compile` writes, from the compiler's direct writer (the
    standard library's indenting encoder is pure Python, ~2.5x slower)."""
    from chatflow.compiler.ir import dumps

    return dumps(dict(doc))


def ir_sha256(doc: Any) -> str:
    return hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class IRRef:
    """Which compiled IR an instance pinned: `<flow>@<version>` plus its sha256."""

    flow: str
    version: str
    sha256: str

    @property
    def key(self) -> str:
        return f"{self.flow}@{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {"flow": self.flow, "version": self.version, "sha256": self.sha256}

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> IRRef:
        return IRRef(str(d["flow"]), str(d["version"]), str(d["sha256"]))


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """The small, frequently read part of an instance.

    `rev` is assigned by the store: 1 at creation, +1 per commit.  `seq` is the
    seq of the last history event (0 before the first one)."""

    instance_id: str
    flow: str
    flow_version: str = ""
    status: str = "running"
    progress: float = 0.0
    current_steps: tuple[str, ...] = ()
    feature_id: str | None = None
    parent_instance_id: str | None = None
    depth: int = 0
    automation: int | None = None
    error: str | None = None
    created_at: str = ""
    updated_at: str = ""
    rev: int = 0
    seq: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "flow": self.flow,
            "flow_version": self.flow_version,
            "status": self.status,
            "progress": self.progress,
            "current_steps": list(self.current_steps),
            "feature_id": self.feature_id,
            "parent_instance_id": self.parent_instance_id,
            "depth": self.depth,
            "automation": self.automation,
            "error": self.error,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "rev": self.rev,
            "seq": self.seq,
            "extra": dict(self.extra),
        }

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> StatusRecord:
        status = str(d["status"])
        if status not in INSTANCE_STATUSES:
            raise ValueError(f"unknown instance status {status!r}")
        return StatusRecord(
            instance_id=str(d["instance_id"]),
            flow=str(d["flow"]),
            flow_version=str(d.get("flow_version") or ""),
            status=status,
            progress=float(d.get("progress") or 0.0),
            current_steps=tuple(str(s) for s in d.get("current_steps") or ()),
            feature_id=_opt_str(d.get("feature_id")),
            parent_instance_id=_opt_str(d.get("parent_instance_id")),
            depth=int(d.get("depth") or 0),
            automation=None if d.get("automation") is None else int(d["automation"]),
            error=_opt_str(d.get("error")),
            created_at=str(d.get("created_at") or ""),
            updated_at=str(d.get("updated_at") or ""),
            rev=int(d["rev"]),
            seq=int(d.get("seq") or 0),
            extra=dict(d.get("extra") or {}),
        )

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


STATUS_FIELDS = frozenset(StatusRecord.__slots__) - {"instance_id", "rev", "seq", "created_at"}
"""Fields a commit may change (`Change.status`)."""


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step's result.  `owner`/`lease_until` (epoch seconds) are set while
    the step is `running`; `iterations` holds one dict per `repeat` round."""

    name: str
    status: str = "pending"
    attempts: int = 0
    outputs: Mapping[str, Any] = field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None
    owner: str | None = None
    lease_until: float | None = None
    iterations: tuple[Mapping[str, Any], ...] = ()
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def lease_expired(self, now: float) -> bool:
        return self.lease_until is None or self.lease_until <= now

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "attempts": self.attempts,
            "outputs": dict(self.outputs),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "owner": self.owner,
            "lease_until": self.lease_until,
            "iterations": [dict(i) for i in self.iterations],
            "error": self.error,
            "extra": dict(self.extra),
        }

    def to_stored_json(self) -> dict[str, Any]:
        """`to_json()` without the fields that hold their defaults (what the
        stores write: `from_json` reads both forms)."""
        d: dict[str, Any] = {"name": self.name, "status": self.status}
        if self.attempts:
            d["attempts"] = self.attempts
        if self.outputs:
            d["outputs"] = dict(self.outputs)
        if self.started_at is not None:
            d["started_at"] = self.started_at
        if self.finished_at is not None:
            d["finished_at"] = self.finished_at
        if self.owner is not None:
            d["owner"] = self.owner
        if self.lease_until is not None:
            d["lease_until"] = self.lease_until
        if self.iterations:
            d["iterations"] = [dict(i) for i in self.iterations]
        if self.error is not None:
            d["error"] = self.error
        if self.extra:
            d["extra"] = dict(self.extra)
        return d

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> StepRecord:
        lease = d.get("lease_until")
        return StepRecord(
            name=str(d["name"]),
            status=str(d.get("status") or "pending"),
            attempts=int(d.get("attempts") or 0),
            outputs=dict(d.get("outputs") or {}),
            started_at=_opt_str(d.get("started_at")),
            finished_at=_opt_str(d.get("finished_at")),
            owner=_opt_str(d.get("owner")),
            lease_until=None if lease is None else float(lease),
            iterations=tuple(dict(i) for i in d.get("iterations") or ()),
            error=_opt_str(d.get("error")),
            extra=dict(d.get("extra") or {}),
        )


@dataclass(frozen=True, slots=True)
class StateRecord:
    """The full data of an instance.  `steps` maps step name → result.

    Treat it as read-only: stores may share the step records between the
    snapshots they hand out."""

    instance_id: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    variables: Mapping[str, Any] = field(default_factory=dict)
    steps: Mapping[str, StepRecord] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    children: tuple[str, ...] = ()
    ir_ref: IRRef | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    rev: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "inputs": dict(self.inputs),
            "variables": dict(self.variables),
            "steps": {name: s.to_json() for name, s in self.steps.items()},
            "outputs": dict(self.outputs),
            "children": list(self.children),
            "ir": None if self.ir_ref is None else self.ir_ref.to_json(),
            "extra": dict(self.extra),
            "rev": self.rev,
        }

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> StateRecord:
        ir = d.get("ir")
        return StateRecord(
            instance_id=str(d["instance_id"]),
            inputs=dict(d.get("inputs") or {}),
            variables=dict(d.get("variables") or {}),
            steps={str(k): StepRecord.from_json(v) for k, v in (d.get("steps") or {}).items()},
            outputs=dict(d.get("outputs") or {}),
            children=tuple(str(c) for c in d.get("children") or ()),
            ir_ref=None if ir is None else IRRef.from_json(ir),
            extra=dict(d.get("extra") or {}),
            rev=int(d.get("rev") or 0),
        )


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append; the store assigns its `seq` (and `ts` if empty)."""

    type: str
    step: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    ts: str = ""


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One appended history event.  `seq` is dense from 1 per instance; the
    only gaps are events lost to damage, and `repair` records each such loss
    in a `history_lost` event (`data.lost_seqs`) instead of renumbering."""

    seq: int
    type: str
    ts: str
    step: str | None
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.type, "ts": self.ts, "step": self.step,
                "data": dict(self.data)}

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> HistoryEvent:
        return HistoryEvent(int(d["seq"]), str(d["type"]), str(d.get("ts") or ""),
                            _opt_str(d.get("step")), dict(d.get("data") or {}))


def event_json_problem(d: Mapping[str, Any]) -> str | None:
    """Why `d` is not a stored history event (`{seq, type, ts, step, data}`
    with an int `seq` >= 1), or None when it is one."""
    seq = d.get("seq")
    if type(seq) is not int or seq < 1:
        return f"event seq must be a positive integer, found {json.dumps(seq)[:40]}"
    if not isinstance(d.get("type"), str) or not d["type"]:
        return f"event {seq}: `type` must be a non-empty string"
    if not isinstance(d.get("ts", ""), str):
        return f"event {seq}: `ts` must be a string"
    if d.get("step") is not None and not isinstance(d["step"], str):
        return f"event {seq}: `step` must be a string or null"
    if d.get("data") is not None and not isinstance(d["data"], dict):
        return f"event {seq}: `data` must be an object"
    return None


LOSS_EVENT = "history_lost"
"""The event `repair` appends where history was lost (every backend).  Its
data: `lost_seqs` and `lost_revs` (lists of `[first, last]` ranges),
`state_rev` (the rev of the state carried on), `journal_copy` (file backend:
the copy of the damaged journal) and `message`."""


def seq_ranges(numbers: Sequence[int]) -> list[list[int]]:
    """Sorted numbers as `[first, last]` ranges: [4, 5, 9] -> [[4, 5], [9, 9]]."""
    out: list[list[int]] = []
    for n in sorted(numbers):
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return out


@dataclass(frozen=True, slots=True)
class Change:
    """One state transition: what changes, committed atomically.

    - `status`: StatusRecord fields to replace (see `STATUS_FIELDS`);
    - `steps`: step records to insert or replace whole;
    - `variables` / `outputs` / `extra`: keys to set (merged into the old maps);
    - `children`: child instance ids to add;
    - `events`: history events to append, in order."""

    status: Mapping[str, Any] = field(default_factory=dict)
    steps: tuple[StepRecord, ...] = ()
    variables: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    children: tuple[str, ...] = ()
    events: tuple[NewEvent, ...] = ()

    def delta_json(self) -> dict[str, Any]:
        """The state part of the change (what the journal stores)."""
        d: dict[str, Any] = {}
        if self.steps:
            d["steps"] = [s.to_stored_json() for s in self.steps]
        if self.variables:
            d["variables"] = dict(self.variables)
        if self.outputs:
            d["outputs"] = dict(self.outputs)
        if self.extra:
            d["extra"] = dict(self.extra)
        if self.children:
            d["children"] = list(self.children)
        return d


def check_status_changes(changes: Mapping[str, Any]) -> None:
    if not STATUS_FIELDS.issuperset(changes):  # (no set built in the common case)
        unknown = set(changes) - STATUS_FIELDS
        raise ValueError(f"cannot change status field(s) {sorted(unknown)}; "
                         f"allowed: {sorted(STATUS_FIELDS)}")
    if "status" in changes and changes["status"] not in INSTANCE_STATUSES:
        raise ValueError(f"unknown instance status {changes['status']!r}; "
                         f"expected one of {', '.join(INSTANCE_STATUSES)}")


def next_status(old: StatusRecord, changes: Mapping[str, Any], seq: int, now: str) -> StatusRecord:
    """The status after a commit: `changes` applied, rev + 1, seq and updated_at set."""
    fields = dict(zip(_STATUS_SLOTS, _status_values(old), strict=True))
    fields.update(changes)
    if "current_steps" in changes:
        fields["current_steps"] = tuple(changes["current_steps"])
    if "extra" in changes:
        fields["extra"] = dict(changes["extra"])
    fields.update(rev=old.rev + 1, seq=seq, updated_at=now)
    return StatusRecord(**fields)


_STATUS_SLOTS: tuple[str, ...] = StatusRecord.__slots__
_status_values = operator.attrgetter(*_STATUS_SLOTS)


def apply_delta(state: StateRecord, delta: Mapping[str, Any], rev: int,
                steps: dict[str, StepRecord] | None = None) -> StateRecord:
    """The state after a journalled delta (the JSON form of `Change.delta_json`).

    When `steps` is given it is the (already copied) dict to update in place;
    callers that own the old state's dict pass it to avoid an O(steps) copy."""
    new_steps = dict(state.steps) if steps is None else steps
    for s in delta.get("steps", ()):
        rec = s if isinstance(s, StepRecord) else StepRecord.from_json(s)
        new_steps[rec.name] = rec
    variables = state.variables
    if delta.get("variables"):
        variables = {**state.variables, **delta["variables"]}
    outputs = state.outputs
    if delta.get("outputs"):
        outputs = {**state.outputs, **delta["outputs"]}
    extra = state.extra
    if delta.get("extra"):
        extra = {**state.extra, **delta["extra"]}
    children = state.children
    if delta.get("children"):
        children = state.children + tuple(c for c in delta["children"] if c not in state.children)
    return StateRecord(state.instance_id, state.inputs, variables, new_steps, outputs,
                       children, state.ir_ref, extra, rev)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with what is stored (`StateStore.check`).

    `repairable`: `repair` can rebuild what the problem damaged.  `lossy`:
    committed data is gone (history events, transitions); `repair` can only
    record the loss, so it is never run automatically (`chatflow resume`
    repairs the other problems itself, not these)."""

    instance_id: str | None
    path: str
    kind: str
    message: str
    repairable: bool = True
    lossy: bool = False

    def __str__(self) -> str:
        fix = "" if self.repairable else " (not repairable automatically)"
        return f"{self.path}: {self.kind}: {self.message}{fix}"


@dataclass
class RepairReport:
    """What `StateStore.repair` found and did."""

    instance_id: str
    problems: list[Problem] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(p.repairable for p in self.problems)


@dataclass
class Inventory:
    """`StateStore.inventory()`: the status of every instance that can be read
    and, per damaged instance, what is wrong with it (only what a listing can
    find cheaply: unreadable status, a journal that is missing, shorter than
    what was committed or not a file).  A damaged instance whose status can
    still be rebuilt is in both; one that cannot is only in `damaged`."""

    statuses: list[StatusRecord] = field(default_factory=list)
    damaged: dict[str, list[Problem]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """One stored task artifact.  `path` is set by backends that keep files."""

    instance_id: str
    step: str
    name: str
    size: int
    path: str | None = None


@dataclass
class MigrationReport:
    """What `migrate_store` did."""

    url: str
    from_format: int | None
    to_format: int
    migrated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    backup: str | None = None
    message: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.migrated) or (self.from_format != self.to_format)
