"""Quota arithmetic for the engine: limits, spending, checks, roll-up, display.

Plain data in, plain data out: nothing here touches a store or an engine, so
the engine calls it wherever it accounts a step. The API:

    QUOTA_KEYS = ("tokens", "cpu_ms", "wall_ms", "steps")     # IR keys, in check order

    parse_limits(quota: Mapping | None) -> QuotaLimits
        IR `settings.quota` ({"tokens": 200000, "cpu_ms": ..., ...}) → limits;
        a bad key or value raises QuotaError (a ChatflowError, exit code 2).
    limits_from_settings(settings: Mapping | None) -> QuotaLimits
        the same, from a flow's whole `settings` dict (no `quota`: no limits).

    Spending(tokens=0, cpu_ms=0, wall_ms=0, steps=0)          # frozen dataclass
        a + b / a.add(b)   tokens, cpu_ms, steps add up; wall_ms is the max
                           (wall time is elapsed time: a child's runs inside
                           its parent's, so it never adds to it)
        merge(*spendings) -> Spending
        Spending.from_dict(d) / s.to_dict()    (tolerant: missing keys are 0)
        s.with_wall(ms) -> Spending            (replace wall_ms)
    step_spending(tokens=0, cpu_s=0.0, wall_s=0.0, steps=1) -> Spending
    elapsed_ms(started_at_iso: str, now: float | None = None) -> int

    wall_clock(created_at, end=None, waiting=None, now=None) -> WallClock
        what the `wall` quota counts: time since `created_at` (to `end`, epoch
        seconds, for a finished instance) minus the time it waited for a
        person. `waiting` is the instance's stored record of those waits
        (`extra["waiting"]`: {"ms": closed waits, "since": ISO start of the
        open one or null}). WallClock(wall_ms, waiting_ms, elapsed_ms).
    pause_started(waiting, now_iso) -> dict | None
    pause_ended(waiting, now_iso) -> dict | None
        the new `waiting` record when a wait for a person starts / ends
        (None: nothing changes), so the engine commits it with the status
        change that caused it.

    check(limits, spent, instance_id=None) -> QuotaExceeded | None
        the first quota (in QUOTA_KEYS order) whose spending is above its limit.
    check_before_step(limits, spent, instance_id=None) -> QuotaExceeded | None
        whether one more step may start: `steps` counts the step about to run
        (spent.steps + 1 > limit), the others as `check`.
    QuotaExceeded(quota, key, limit, spent, instance_id)
        .message  "quota `tokens` exceeded: 212,400 spent of 200,000"
        .to_event_data() -> {"quota", "key", "limit", "spent", "instance_id",
                             "message"}  (the `quota_exceeded` event's data)

    ancestor_chain(instance_id, parent_of: Callable[[str], str | None],
                   max_depth=1000) -> list[str]
        [instance_id, parent, grandparent, ...] up to the root (O(depth)).
    roll_up(delta, chain: Sequence[tuple[str, Spending, QuotaLimits]])
            -> list[RollupUpdate]
        `chain` is (instance id, its tree spending so far, its limits) from the
        instance that spent up to the root; each gets `delta` added and is
        checked: RollupUpdate(instance_id, before, after, exceeded).
    topmost_exceeded(updates) -> QuotaExceeded | None
        the crossed quota nearest the root: the tree under it must stop.

    quota_status(limits, spent, waiting_ms=None)
            -> {"tokens": {"limit": 200000, "spent": 212400}, ...}
        (only the quotas the flow sets; `chatflow status --json` puts it under
        "quota"; with `waiting_ms`, the `wall_ms` entry also carries it)
    render_quota_table(limits, spent, waiting_ms=0) -> str
        the text table `chatflow status` prints (empty string without quotas);
        the wall row says how long the instance waited for people (not counted).
    format_amount(key, value) -> str   "212,400" / "10m 12s" / "850ms"

`spent` is what the instance *and its descendants* spent (its tree); what the
instance spent alone is the engine's business (the same `Spending` type).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from chatflow.diagnostics import UsageError
from chatflow.runtime.store.records import epoch_seconds
from chatflow.runtime.values import is_number

__all__ = [
    "QUOTA_KEYS",
    "QuotaError",
    "QuotaExceeded",
    "QuotaLimits",
    "RollupUpdate",
    "Spending",
    "WallClock",
    "ancestor_chain",
    "check",
    "check_before_step",
    "elapsed_ms",
    "format_amount",
    "limits_from_settings",
    "merge",
    "parse_limits",
    "pause_ended",
    "pause_started",
    "quota_status",
    "render_quota_table",
    "roll_up",
    "step_spending",
    "topmost_exceeded",
    "wall_clock",
]

QUOTA_KEYS = ("tokens", "cpu_ms", "wall_ms", "steps")
"""IR keys of `settings.quota`, in the order quotas are checked and shown."""

SOURCE_NAMES = {"tokens": "tokens", "cpu_ms": "cpu", "wall_ms": "wall", "steps": "steps"}
"""How each quota is written in a `.flow` file (`quota cpu 10m`)."""

_DURATION_KEYS = frozenset({"cpu_ms", "wall_ms"})


class QuotaError(UsageError):
    """A malformed `settings.quota` (only hand-built IR can have one)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


# ---------------------------------------------------------------------------- limits


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    """The limits a flow sets; None means no limit on that quantity."""

    tokens: int | None = None
    cpu_ms: int | None = None
    wall_ms: int | None = None
    steps: int | None = None

    def items(self) -> Iterator[tuple[str, int]]:
        """(key, limit) of every quota that is set, in QUOTA_KEYS order."""
        for key in QUOTA_KEYS:
            value = getattr(self, key)
            if value is not None:
                yield key, value

    def __bool__(self) -> bool:
        return any(getattr(self, k) is not None for k in QUOTA_KEYS)

    def to_dict(self) -> dict[str, int]:
        return dict(self.items())


def parse_limits(quota: Mapping[str, Any] | None) -> QuotaLimits:
    """IR `settings.quota` → QuotaLimits (keys tokens, cpu_ms, wall_ms, steps;
    values non-negative integers)."""
    if quota is None:
        return QuotaLimits()
    if not isinstance(quota, Mapping):
        raise QuotaError(f"settings.quota must be a map, got {type(quota).__name__}")
    values: dict[str, int] = {}
    for key, value in quota.items():
        if key not in QUOTA_KEYS:
            raise QuotaError(f"unknown quota `{key}` (known: {', '.join(QUOTA_KEYS)})")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise QuotaError(f"quota `{key}` must be a non-negative integer, got {value!r}")
        values[key] = value
    return QuotaLimits(**values)


def limits_from_settings(settings: Mapping[str, Any] | None) -> QuotaLimits:
    """The limits of a flow from its IR `settings` (no `quota`: no limits)."""
    if not settings:
        return QuotaLimits()
    return parse_limits(settings.get("quota"))


# ---------------------------------------------------------------------------- spending


@dataclass(frozen=True, slots=True)
class Spending:
    """What was spent: agent tokens, CPU and wall milliseconds, steps run."""

    tokens: int = 0
    cpu_ms: int = 0
    wall_ms: int = 0
    steps: int = 0

    def __add__(self, other: Spending) -> Spending:
        if not isinstance(other, Spending):
            return NotImplemented
        return Spending(self.tokens + other.tokens, self.cpu_ms + other.cpu_ms,
                        max(self.wall_ms, other.wall_ms), self.steps + other.steps)

    def add(self, other: Spending) -> Spending:
        return self + other

    def with_wall(self, wall_ms: int) -> Spending:
        return replace(self, wall_ms=int(wall_ms))

    def __bool__(self) -> bool:
        return any(getattr(self, k) for k in QUOTA_KEYS)

    def to_dict(self) -> dict[str, int]:
        return {k: int(getattr(self, k)) for k in QUOTA_KEYS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Spending:
        """From a stored dict; missing or non-numeric entries count as 0."""
        if not data:
            return cls()
        out: dict[str, int] = {}
        for key in QUOTA_KEYS:
            value = data.get(key, 0)
            out[key] = int(value) if is_number(value) else 0
        return cls(**out)


def merge(*spendings: Spending | Iterable[Spending]) -> Spending:
    """The sum of spendings (given as arguments or one iterable)."""
    total = Spending()
    for item in spendings:
        if isinstance(item, Spending):
            total = total + item
        else:
            for s in item:
                total = total + s
    return total


def step_spending(tokens: int = 0, cpu_s: float = 0.0, wall_s: float = 0.0,
                  steps: int = 1) -> Spending:
    """One executed step's spending from what its action reported."""
    return Spending(int(tokens), round(cpu_s * 1000), round(wall_s * 1000),
                    int(steps))


def elapsed_ms(started_at: str, now: float | None = None) -> int:
    """Milliseconds since an ISO-8601 timestamp (`created_at`); 0 if unreadable."""
    start = epoch_seconds(started_at)
    if start is None:
        return 0
    current = time.time() if now is None else now
    return max(0, round((current - start) * 1000))


# ---------------------------------------------------------------------------- wall time and people

@dataclass(frozen=True, slots=True)
class WallClock:
    """An instance's wall time: what the `wall` quota counts (`wall_ms`), the
    time it waited for a person (`waiting_ms`), and both together."""

    wall_ms: int
    waiting_ms: int
    elapsed_ms: int


def _waiting_parts(waiting: Mapping[str, Any] | None) -> tuple[int, str | None]:
    if not isinstance(waiting, Mapping):
        return 0, None
    ms = waiting.get("ms", 0)
    since = waiting.get("since")
    return (int(ms) if is_number(ms) and ms > 0 else 0,
            since if isinstance(since, str) and since else None)


def wall_clock(created_at: str, end: float | None = None,
               waiting: Mapping[str, Any] | None = None,
               now: float | None = None) -> WallClock:
    """Time since `created_at` (up to `end` when the instance finished, else
    `now`) minus the time spent waiting for a person: the closed waits
    (`waiting["ms"]`) and the open one (since `waiting["since"]`)."""
    current = end if end is not None else (time.time() if now is None else now)
    elapsed = elapsed_ms(created_at, current)
    closed, since = _waiting_parts(waiting)
    open_ms = elapsed_ms(since, current) if since else 0
    paused = min(elapsed, closed + open_ms)
    return WallClock(elapsed - paused, paused, elapsed)


def pause_started(waiting: Mapping[str, Any] | None, now_iso: str) -> dict[str, Any] | None:
    """The `waiting` record once the instance starts waiting for a person
    (None when a wait is already open)."""
    closed, since = _waiting_parts(waiting)
    if since is not None:
        return None
    return {"ms": closed, "since": now_iso}


def pause_ended(waiting: Mapping[str, Any] | None, now_iso: str) -> dict[str, Any] | None:
    """The `waiting` record once the wait is over: its time is added to the
    closed waits (None when no wait is open)."""
    closed, since = _waiting_parts(waiting)
    if since is None:
        return None
    end = epoch_seconds(now_iso)
    return {"ms": closed + (elapsed_ms(since, end) if end is not None else 0), "since": None}


# ---------------------------------------------------------------------------- checks


@dataclass(frozen=True, slots=True)
class QuotaExceeded:
    """A quota crossed: which one, its limit, and how much was spent."""

    quota: str           # as written in source: tokens, cpu, wall, steps
    key: str             # IR key: tokens, cpu_ms, wall_ms, steps
    limit: int
    spent: int
    instance_id: str | None = None  # whose quota (an ancestor's, for a child's spending)

    @property
    def message(self) -> str:
        text = (f"quota `{self.quota}` exceeded: {format_amount(self.key, self.spent)} "
                f"spent of {format_amount(self.key, self.limit)}")
        if self.instance_id:
            text += f" (instance {self.instance_id})"
        return text

    def __str__(self) -> str:
        return self.message

    def to_event_data(self) -> dict[str, Any]:
        return {"quota": self.quota, "key": self.key, "limit": self.limit,
                "spent": self.spent, "instance_id": self.instance_id,
                "message": self.message}


def _exceeded(key: str, limit: int, spent: int, instance_id: str | None) -> QuotaExceeded:
    return QuotaExceeded(SOURCE_NAMES[key], key, limit, spent, instance_id)


def check(limits: QuotaLimits, spent: Spending,
          instance_id: str | None = None) -> QuotaExceeded | None:
    """The first quota whose spending is above its limit, or None."""
    for key, limit in limits.items():
        amount = int(getattr(spent, key))
        if amount > limit:
            return _exceeded(key, limit, amount, instance_id)
    return None


def check_before_step(limits: QuotaLimits, spent: Spending,
                      instance_id: str | None = None) -> QuotaExceeded | None:
    """Whether starting one more step would cross a quota: `steps` counts the
    step about to run; the other quantities must not already be over."""
    for key, limit in limits.items():
        amount = int(getattr(spent, key))
        if key == "steps":
            if amount + 1 > limit:
                return _exceeded(key, limit, amount + 1, instance_id)
        elif amount > limit:
            return _exceeded(key, limit, amount, instance_id)
    return None


# ---------------------------------------------------------------------------- roll-up


@dataclass(frozen=True, slots=True)
class RollupUpdate:
    """One instance's tree spending before and after a step was accounted."""

    instance_id: str
    before: Spending
    after: Spending
    exceeded: QuotaExceeded | None = None


def ancestor_chain(instance_id: str, parent_of: Callable[[str], str | None],
                   max_depth: int = 1000) -> list[str]:
    """`[instance_id, parent, grandparent, ..., root]`, following `parent_of`.
    Stops at a repeated id (a corrupt store must not loop forever) or after
    `max_depth` parents."""
    chain = [instance_id]
    seen = {instance_id}
    current = instance_id
    for _ in range(max_depth):
        parent = parent_of(current)
        if parent is None or parent in seen:
            break
        chain.append(parent)
        seen.add(parent)
        current = parent
    return chain


def roll_up(delta: Spending,
            chain: Sequence[tuple[str, Spending, QuotaLimits]]) -> list[RollupUpdate]:
    """Add `delta` to every instance of `chain` (the spender first, the root
    last) and check each against its own limits. O(len(chain))."""
    updates = []
    for instance_id, before, limits in chain:
        after = before + delta
        updates.append(RollupUpdate(instance_id, before, after,
                                    check(limits, after, instance_id)))
    return updates


def topmost_exceeded(updates: Sequence[RollupUpdate]) -> QuotaExceeded | None:
    """The crossed quota nearest the root (the last in chain order): the
    whole tree under that instance has to stop."""
    for update in reversed(updates):
        if update.exceeded is not None:
            return update.exceeded
    return None


# ---------------------------------------------------------------------------- display


def format_amount(key: str, value: int) -> str:
    """A quantity for people: durations as `10m 12s`, counts with separators."""
    if key in _DURATION_KEYS:
        return _format_ms(int(value))
    return f"{int(value):,}"


def _format_ms(ms: int) -> str:
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        secs = ms / 1000
        return f"{secs:.1f}s".replace(".0s", "s")
    total_s = ms // 1000
    hours, rest = divmod(total_s, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes or (hours and seconds):
        parts.append(f"{minutes}m")
    if seconds:
        parts.append(f"{seconds}s")
    return " ".join(parts)


def quota_status(limits: QuotaLimits, spent: Spending,
                 waiting_ms: int | None = None) -> dict[str, dict[str, int]]:
    """`{"tokens": {"limit": 200000, "spent": 212400}, ...}` for the quotas set;
    with `waiting_ms`, the `wall_ms` entry also says how long the instance
    waited for people (time that `spent` does not count)."""
    out = {key: {"limit": limit, "spent": int(getattr(spent, key))}
           for key, limit in limits.items()}
    if waiting_ms is not None and "wall_ms" in out:
        out["wall_ms"]["waiting_ms"] = int(waiting_ms)
    return out


def render_quota_table(limits: QuotaLimits, spent: Spending, waiting_ms: int = 0) -> str:
    """The quota table of `chatflow status` (empty when the flow sets none)."""
    rows = [("quota", "spent", "limit", "used")]
    over: list[bool] = [False]
    notes: list[str] = [""]
    for key, limit in limits.items():
        amount = int(getattr(spent, key))
        used = f"{amount * 100 // limit}%" if limit else ("-" if amount == 0 else "∞")
        rows.append((SOURCE_NAMES[key], format_amount(key, amount),
                     format_amount(key, limit), used))
        over.append(amount > limit)
        notes.append(f"(+{format_amount(key, waiting_ms)} waiting for people, not counted)"
                     if key == "wall_ms" and waiting_ms > 0 else "")
    if len(rows) == 1:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for row, exceeded, note in zip(rows, over, notes, strict=True):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:],
                                                                       strict=True)]
        line = "  ".join(cells)
        if exceeded:
            line += "  exceeded"
        if note:
            line += "  " + note
        lines.append(line.rstrip())
    return "\n".join(lines) + "\n"
