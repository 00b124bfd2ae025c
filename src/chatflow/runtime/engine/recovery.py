"""Crash recovery and the running-step watcher. `recover` puts back to work
what nobody runs any more (steps whose owner died, `call` steps whose child a
person decided on); the `Watcher` kills this process's running steps when
their instance ended or another process took them away."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from dataclasses import replace

from chatflow.diagnostics import ChatflowError
from chatflow.runtime.claim import Claim
from chatflow.runtime.engine.accounting import QuotaAccount
from chatflow.runtime.engine.claims import CLAIMS
from chatflow.runtime.engine.instance import Instance
from chatflow.runtime.records import (
    CANCELLED,
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    WAITING_APPROVAL,
)
from chatflow.runtime.store.base import StateStore
from chatflow.runtime.store.records import StepRecord
from chatflow.runtime.waits import waiting_points

WATCH_S = 0.5
"""How often a process checks that the steps it runs are still its own."""

HOST = socket.gethostname()


def recover(store: StateStore, rt: Instance) -> None:
    """Running steps whose owner is gone: re-run if they have retries
    left (or the level is 100), else hold them "in doubt"."""
    for nid in sorted(rt.waiting):
        rec = rt.step(nid)
        child = rec.extra.get("child_instance_id")
        if rec.extra.get("gate") != "child" or not child:
            continue
        try:  # still waiting if a step in it (or deeper) waits for a person
            waits = store.load_status(str(child)).status == WAITING_APPROVAL and \
                any(p.decidable for p in waiting_points(store, str(child)))
        except ChatflowError:
            continue
        if not waits:  # decided on (in the child, or deeper): go on
            extra = {k: v for k, v in rec.extra.items() if k != "gate"}
            rt.put(replace(rec, status=PENDING, extra={**extra, "approved_to_run": True,
                                                       "resume_child": True}))
            rt.sched.set_status(nid, PENDING)
            rt.sched.requeue(nid)
    if not rt.running:
        return
    now = time.time()
    for nid in sorted(rt.running):
        rec = rt.step(nid)
        if not orphaned(rt.instance_id, rec, now):
            continue
        retry = (rt.graph.nodes[nid].get("options") or {}).get("retry")
        times = int(retry["times"]) if retry else 0
        if (retry and rec.attempts <= times) or rt.automation == 100:
            extra = {k: v for k, v in rec.extra.items() if k != "gate"}
            rt.put(replace(rec, status=PENDING, owner=None, lease_until=None, extra=extra))
            rt.sched.set_status(nid, PENDING)
            rt.sched.requeue(nid)
            rt.event("step_interrupted", nid, attempt=rec.attempts, action="rerun",
                     owner=rec.owner)
        else:
            rt.put(replace(rec, status=WAITING_APPROVAL, owner=None, lease_until=None,
                           extra={**rec.extra, "gate": "in_doubt", "in_doubt": True}))
            rt.sched.set_status(nid, WAITING_APPROVAL)
            rt.event("step_interrupted", nid, attempt=rec.attempts, action="in_doubt",
                     owner=rec.owner)
            rt.event("step_waiting_approval", nid, gate="in_doubt", in_doubt=True)


def orphaned(instance_id: str, rec: StepRecord, now: float) -> bool:
    """Whether nobody runs this `running` step any more: its owner is a
    dead process on this host, a claim this process no longer executes,
    or (another host) its lease ran out."""
    owner = rec.owner or ""
    parts = owner.split(":")
    if len(parts) == 3 and parts[0] == HOST:
        try:
            pid = int(parts[1])
        except ValueError:
            return True
        if pid == os.getpid():
            return not CLAIMS.holds(owner, instance_id, rec.name)
        return not _pid_alive(pid)
    return rec.lease_expired(now)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Watcher:
    """One engine's watcher thread (started on first use): every WATCH_S,
    for each instance with steps running here, it reads the instance's status
    (small); when the instance finished (cancelled, failed, a quota stop), or
    its revision moved and a step's record is no longer ours (another process
    cancelled it), it sets that claim's cancel event, which kills the action.
    O(running steps) per round, independent of history."""

    def __init__(self, store: StateStore, quota: QuotaAccount) -> None:
        self.store = store
        self.quota = quota
        self._lock = threading.Lock()
        self._watched: dict[tuple[str, str], Claim] = {}
        self._thread: threading.Thread | None = None

    def watch(self, claim: Claim) -> None:
        """Register a committed claim (starts the thread on first use)."""
        with self._lock:
            self._watched[(claim.instance_id, claim.step)] = claim
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name="chatflow-watcher")
                self._thread.start()

    def unwatch(self, claim: Claim) -> None:
        with self._lock:
            self._watched.pop((claim.instance_id, claim.step), None)

    def _loop(self) -> None:
        revs: dict[str, int] = {}
        while True:
            time.sleep(WATCH_S)
            with self._lock:
                claims = list(self._watched.values())
            by_instance: dict[str, list[Claim]] = {}
            for c in claims:
                by_instance.setdefault(c.instance_id, []).append(c)
            for iid, group in by_instance.items():
                with contextlib.suppress(Exception):  # a store hiccup: try next round
                    self._check(iid, group, revs)
            for iid in [i for i in revs if i not in by_instance]:
                del revs[iid]

    def _check(self, iid: str, claims: list[Claim], revs: dict[str, int]) -> None:
        st = self.store.load_status(iid)
        if st.status in (SUCCEEDED, FAILED, CANCELLED):
            for c in claims:
                c.cancel.set()
            return
        self.quota.check_wall(iid)
        if revs.get(iid) == st.rev:
            return
        revs[iid] = st.rev
        for c in claims:
            rec = self.store.load_step(iid, c.step)
            if rec is None or rec.status != RUNNING or rec.owner != c.owner:
                c.cancel.set()
