"""The `Engine`: one object per store that coordinates the engine's parts —
it owns the collaborators (instances, resolver, quota account, watcher,
executor, driver, sub-flow runner), and offers the public operations: start,
drive, decide, cancel/stop, and the read views."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from chatflow.diagnostics import UsageError
from chatflow.runtime.claim import ActionOutcome, Claim
from chatflow.runtime.config import Config
from chatflow.runtime.engine.accounting import QuotaAccount
from chatflow.runtime.engine.completion import complete, set_stop
from chatflow.runtime.engine.driver import Driver
from chatflow.runtime.engine.execute import Executor
from chatflow.runtime.engine.instance import Unpinned
from chatflow.runtime.engine.instances import EventSink, Instances, Locked
from chatflow.runtime.engine.lifecycle import fail_instance, update_instance_status
from chatflow.runtime.engine.recovery import HOST, Watcher
from chatflow.runtime.engine.resolve import Resolver
from chatflow.runtime.engine.start import start_instance
from chatflow.runtime.engine.subflows import SubflowRunner
from chatflow.runtime.engine.views import instance_state as instance_view
from chatflow.runtime.engine.views import (
    state_from_records,
    status_from_records,
    status_info,
    workflow_state,
)
from chatflow.runtime.records import (
    CANCELLED,
    FAILED,
    PENDING,
    SUCCEEDED,
    WAITING_APPROVAL,
    WorkflowHistoryEvent,
    WorkflowInstanceState,
    WorkflowStartResult,
    WorkflowState,
    WorkflowStatusInfo,
)
from chatflow.runtime.store.base import StateStore
from chatflow.runtime.waits import CHILD_GATE, refuse_decision

DEFAULT_MAX_DEPTH = 8

ActionRunner = Callable[["Engine", Claim, str], ActionOutcome]
"""Runs one claimed step (no lock held). Third argument: the step's task dir."""


class Engine:
    """Drives instances stored in one `StateStore`. Thread-safe: every
    transition happens under the store's per-instance lock plus a process-local
    lock per instance (file locks do not exclude threads of one process)."""

    def __init__(self, store: StateStore, *, action_runner: ActionRunner | None = None,
                 workdir: str | None = None, max_depth: int = DEFAULT_MAX_DEPTH,
                 config: Config | None = None) -> None:
        self.store = store
        self.config = config
        self.max_depth = max_depth
        self.workdir = workdir or os.getcwd()
        self._runner = action_runner
        self.owner = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._meta = threading.Lock()
        self._cancel_events: dict[str, threading.Event] = {}
        self.instances = Instances(store, self.stop_instance)
        self.quota = QuotaAccount(self.instances, self.stop_instance)
        self.resolver = Resolver(self.owner, self.instances, self.quota)
        self.watcher = Watcher(store, self.quota)
        self.subflows = SubflowRunner(self)
        interrupted = threading.Event()
        self.executor = Executor(self.instances, self.resolver, self.quota, self.watcher,
                                 self._run_action, interrupted)
        self.driver = Driver(self.owner, self.instances, self.resolver, self.executor,
                             interrupted)

    def locked(self, instance_id: str) -> Locked:
        """`with engine.locked(id) as rt:` — the instance under its locks."""
        return self.instances.locked(instance_id)

    def start(self, ir: dict[str, Any], *, flow_key: str | None = None,
              inputs: Mapping[str, Any] | None = None, feature_id: str | None = None,
              automation: int | None = None, parent_instance_id: str | None = None,
              depth: int = 0, instance_id: str | None = None) -> WorkflowStartResult:
        return start_instance(self.instances, ir, flow_key=flow_key, inputs=inputs,
                              feature_id=feature_id, automation=automation,
                              parent_instance_id=parent_instance_id, depth=depth,
                              instance_id=instance_id)

    def drive(self, instance_id: str, *, max_steps: int | None = None,
              wait_for_others: bool = True, sink: EventSink | None = None
              ) -> WorkflowInstanceState:
        """Run ready steps until the instance finishes, blocks on a person, or
        `max_steps` steps ran. With `wait_for_others`, steps another process is
        running are waited for (polling) instead of returning.

        The flow's `parallelism` decides how claimed steps run: `sequential`
        runs one at a time, in source order; `concurrent` and `parallel`
        claim every runnable step (within each group's `max`). Every claimed
        step runs in its own thread (`parallel`: its action in a worker
        process), so the driving thread stays free to take a Ctrl-C: a
        KeyboardInterrupt (or SystemExit) here kills every step this engine
        runs, records each as interrupted (re-run or in doubt, as after a
        crash) and is re-raised. Claims and commits are per step."""
        return self.driver.drive(instance_id, max_steps=max_steps,
                                 wait_for_others=wait_for_others, sink=sink)

    def _run_action(self, claim: Claim, task_dir: str) -> ActionOutcome:
        if self._runner is not None:
            return self._runner(self, claim, task_dir)
        from chatflow.runtime.step_actions import run_claim

        return run_claim(self, claim, task_dir)

    def run_call(self, claim: Claim) -> ActionOutcome:
        """A `call` step: start (or resume) its child and drive it here."""
        return self.subflows.run_call(claim)

    def link_child(self, parent_id: str, child_id: str) -> None:
        """Record `child_id` among `parent_id`'s children (create_subworkflow)."""
        self.subflows.link_child(parent_id, child_id)

    def cancel_event(self, instance_id: str) -> threading.Event:
        """Set when this process cancels the instance (kills running steps)."""
        with self._meta:
            ev = self._cancel_events.get(instance_id)
            if ev is None:
                ev = self._cancel_events[instance_id] = threading.Event()
            return ev

    # ------------------------------------------------------------------ decisions

    def decide(self, instance_id: str, step: str, *, approved: bool, by: str,
               comment: str = "") -> WorkflowStatusInfo:
        with self.locked(instance_id) as rt:
            if step not in rt.graph.nodes:
                raise UsageError(f"instance {instance_id} has no step `{step}`")
            rec = rt.step(step)
            if rec.status != WAITING_APPROVAL:
                raise UsageError(
                    f"step `{step}` of {instance_id} is not waiting for approval "
                    f"(it is {rec.status})")
            gate = rec.extra.get("gate", "risk")
            if gate == CHILD_GATE:
                raise refuse_decision(self.store, instance_id, step, rec)
            decision = {"approved": approved, "by": by, "comment": comment}
            rt.event("step_approved" if approved else "step_rejected", step, gate=gate,
                     by=by, comment=comment)
            if gate == "approve":
                complete(rt, step, SUCCEEDED if approved else FAILED,
                         {"approved": approved, "by": by, "comment": comment},
                         attempts=1, error=None if approved else f"rejected by {by}")
            elif approved:
                extra = {**rec.extra, "approved_to_run": True, "approval": decision}
                extra.pop("gate", None)
                rt.put(replace(rec, status=PENDING, extra=extra))
                rt.sched.set_status(step, PENDING)
                rt.sched.requeue(step)
            else:
                complete(rt, step, FAILED, {"ok": False},
                         error=f"rejected by {by}" + (f": {comment}" if comment else ""))
            # only the decision is recorded here; `resume` drives on (and
            # restarts the wall clock: until then a person is still needed)
            update_instance_status(rt, driving=False)
            self.instances.commit(rt)
            return status_info(rt)

    def cancel(self, instance_id: str) -> WorkflowStatusInfo:
        """Cancel an instance and its live children (running steps are
        killed here; other processes' watchers kill theirs)."""
        return self.stop_instance(instance_id, CANCELLED, "cancelled")

    def stop_instance(self, instance_id: str, status: str, error: str,
                      event: tuple[str, dict[str, Any]] | None = None) -> WorkflowStatusInfo:
        """End an unfinished instance now with `status` (cancelled, or failed
        for a quota stop): unfinished nodes are cancelled, running steps
        killed, and live children stopped the same way (once this lock is
        released)."""
        with self.locked(instance_id) as rt:
            if rt.inst_status not in (SUCCEEDED, FAILED, CANCELLED):
                if event is not None:
                    rt.event(event[0], None, **event[1])
                if status == FAILED:
                    set_stop(rt, event[0] if event else "stop", error)
                fail_instance(rt, error, status=status)
                self.instances.commit(rt)
            children = list(rt.all_children)
            info = status_info(rt)
        self.cancel_event(instance_id).set()
        for child in children:
            if self.store.exists(child) and not self.store.load_status(child).finished:
                self.stop_instance(child, status, error)
        return info

    # ------------------------------------------------------------------ reading

    def instance_state(self, instance_id: str, ran: list[str]) -> WorkflowInstanceState:
        with self.locked(instance_id) as rt:
            return instance_view(rt, ran)

    def status_info(self, instance_id: str) -> WorkflowStatusInfo:
        try:
            with self.locked(instance_id) as rt:
                return status_info(rt)
        except Unpinned as exc:
            return status_from_records(self.store.load_status(instance_id), exc.state)

    def step_names(self, instance_id: str) -> list[str]:
        """Every node of the instance's flow, in source order (an unpinned
        instance: the steps it recorded)."""
        try:
            with self.locked(instance_id) as rt:
                return list(rt.graph.order)
        except Unpinned as exc:
            return list(exc.state.steps)

    def workflow_state(self, instance_id: str) -> WorkflowState:
        try:
            with self.locked(instance_id) as rt:
                return workflow_state(rt)
        except Unpinned as exc:
            return state_from_records(self.store.load_status(instance_id), exc.state)

    def history(self, instance_id: str) -> Iterator[WorkflowHistoryEvent]:
        yield from map(WorkflowHistoryEvent.of, self.store.iter_history(instance_id))

