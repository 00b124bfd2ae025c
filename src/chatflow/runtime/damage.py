"""The damage and repair policy for stored instances: what a command that
reads an instance (`status`, `history`) says about damaged stored files, what
`resume` repairs by itself before it drives on, and what `chatflow repair`
does. Policy only: the stores find the problems and rebuild the files
(`StateStore.check` / `repair`); the results are typed records the CLI prints.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from chatflow.diagnostics import ChatflowError
from chatflow.runtime.store.base import InstanceNotFound, StoreCorruption

__all__ = ["DamageCheck", "RepairOutcome", "check_damage", "repair_instance"]


@dataclass(frozen=True, slots=True)
class DamageCheck:
    """What `check_damage` found (and, for `resume`, repaired).

    `repaired` and `backups` are set when the damage was rebuilt (then
    `problems` is empty); `unchecked` is why the files could not be checked;
    `problems` is what is still damaged (`lost` is true when some of it is
    lost history, which only `chatflow repair` records)."""

    problems: tuple[Any, ...] = ()
    repaired: tuple[str, ...] = ()
    backups: tuple[str, ...] = ()
    unchecked: str | None = None

    @property
    def lost(self) -> bool:
        return any(p.lossy for p in self.problems)


@dataclass(frozen=True, slots=True)
class RepairOutcome:
    """What `chatflow repair` found and did (`report` is None when nothing was wrong)."""

    problems: tuple[Any, ...]
    report: Any = None

    @property
    def ok(self) -> bool:
        return self.report is None or bool(self.report.ok)


def check_damage(store: Any, instance_id: str, *, repair: bool = False) -> DamageCheck:
    """Check an instance's stored files (a torn history tail, a garbage
    status file...). With `repair` (for `resume`), rebuild them first when
    the store can do so without losing anything, under the instance's lock
    so no commit is half-written meanwhile. Lost history is never repaired
    here: with `repair`, it raises `StoreCorruption` (nothing can be
    committed until `chatflow repair` records the loss). An unknown
    instance has no damage (the command itself reports the unknown id)."""
    try:
        if not store.exists(instance_id):
            return DamageCheck()
        with store.lock(instance_id) if repair else contextlib.nullcontext():
            problems = store.check(instance_id)
            if problems and repair and all(p.repairable and not p.lossy for p in problems):
                report = store.repair(instance_id)
                if report.ok:
                    return DamageCheck(repaired=tuple(report.actions),
                                       backups=tuple(report.backups))
    except InstanceNotFound:
        return DamageCheck()
    except (ChatflowError, NotImplementedError, OSError) as exc:
        return DamageCheck(unchecked=str(exc))
    lost = [p for p in problems if p.lossy]
    if repair and lost:
        raise StoreCorruption(lost)
    return DamageCheck(problems=tuple(problems))


def repair_instance(store: Any, instance_id: str) -> RepairOutcome:
    """`chatflow repair`: check the instance's stored files and rebuild what
    can be rebuilt (the store keeps backups of what it replaces)."""
    problems = tuple(store.check(instance_id))
    if not problems:
        return RepairOutcome(())
    return RepairOutcome(problems, store.repair(instance_id))
