"""The process-wide registry of the claims being executed (`ClaimRegistry`,
one per process: `CLAIMS`), which the engine uses to kill a running step and
to tell a step it runs from one a crashed thread or an earlier engine left."""

from __future__ import annotations

import threading

from chatflow.runtime.claim import ActionOutcome, Claim

__all__ = ["CLAIMS", "ActionOutcome", "Claim", "ClaimRegistry"]

Key = tuple[str, str, str]
"""(owner, instance, step)"""


class ClaimRegistry:
    """(owner, instance, step) of every claim being executed in this process,
    by any Engine object, with the event that kills its action: a running step
    owned by this pid but not in here was left by a crashed thread or an
    earlier engine, and is recovered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[Key, threading.Event] = {}

    def add(self, claim: Claim) -> None:
        with self._lock:
            self._active[(claim.owner, claim.instance_id, claim.step)] = claim.cancel

    def remove(self, claim: Claim) -> None:
        with self._lock:
            self._active.pop((claim.owner, claim.instance_id, claim.step), None)

    def holds(self, owner: str, instance_id: str, step: str) -> bool:
        """Whether this process executes that step for that owner."""
        with self._lock:
            return (owner, instance_id, step) in self._active

    def kill(self, owner: str, instance_id: str, step: str) -> None:
        """Kill the step's action if this process executes it."""
        with self._lock:
            ev = self._active.get((owner, instance_id, step))
        if ev is not None:
            ev.set()

    def kill_owner(self, owner: str) -> list[str]:
        """Kill every step `owner` executes; returns their instances."""
        with self._lock:
            mine = [(iid, ev) for (o, iid, _), ev in self._active.items() if o == owner]
        for _, ev in mine:
            ev.set()
        return [iid for iid, _ in mine]

    def forget_owner(self, owner: str) -> None:
        """Drop `owner`'s claims (after an interrupt: claimed, never started)."""
        with self._lock:
            for k in [k for k in self._active if k[0] == owner]:
                del self._active[k]


CLAIMS = ClaimRegistry()
