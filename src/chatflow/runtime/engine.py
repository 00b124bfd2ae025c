"""The durable workflow engine core: runs IR flows against a state store.

Works on IR dicts only (no compiling here). One `Engine` wraps one
`StateStore`. Every state transition is one `Change` committed under the
store's per-instance lock; a step is committed `running` (owner + lease)
before its side effects start, and long steps run *outside* the lock (claim
under the lock, run, commit under the lock), so `status` is never blocked.

Execution semantics follow docs/language.md §8; docs/runtime.md describes the
events, the crash-recovery rules, the parallel strategies, sub-flows and
quotas.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from chatflow.diagnostics import ChatflowError, UsageError
from chatflow.runtime.evaluator import EvalError, evaluate, render
from chatflow.runtime.outputs import bind_outputs
from chatflow.runtime.quota import (
    QuotaExceeded,
    Spending,
    WallClock,
    limits_from_settings,
    pause_ended,
    pause_started,
    quota_status,
    step_spending,
    wall_clock,
)
from chatflow.runtime.quota import check as quota_check
from chatflow.runtime.quota import check_before_step as quota_check_before_step
from chatflow.runtime.records import (
    CANCELLED,
    FAILED,
    PENDING,
    RUNNING,
    SKIPPED,
    STEP_FINISHED,
    SUCCEEDED,
    WAITING_APPROVAL,
    StepInfo,
    StepResult,
    WorkflowHistoryEvent,
    WorkflowInstanceState,
    WorkflowStartResult,
    WorkflowState,
    WorkflowStatusInfo,
)
from chatflow.runtime.scheduler import FlowGraph, Schedule
from chatflow.runtime.shell_bindings import bind_shell
from chatflow.runtime.store.base import StoreError, new_instance_id
from chatflow.runtime.store.records import (
    Change,
    IRRef,
    NewEvent,
    StateRecord,
    StatusRecord,
    StepRecord,
    utc_now,
)
from chatflow.runtime.store.records import epoch_seconds as _epoch
from chatflow.runtime.values import check_type, describe, mismatch
from chatflow.runtime.views import duration_ms
from chatflow.runtime.waits import (
    CHILD_GATE,
    refuse_decision,
    waiting_points,
    waiting_view,
)

DEFAULT_MAX_DEPTH = 8
DEFAULT_LEASE_S = 3600.0
MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
POLL_S = 0.05
WATCH_S = 0.5
"""How often a process checks that the steps it runs are still its own."""

EventSink = Callable[[str, str | None, Mapping[str, Any]], None]
"""Progress callback: (event type, step, data). Called after each commit."""

_HOST = socket.gethostname()

_ACTIVE: dict[tuple[str, str, str], threading.Event] = {}
"""(owner, instance, step) of every claim being executed in this process, by
any Engine object, with the event that kills its action: a running step owned
by this pid but not in here was left by a crashed thread or an earlier engine,
and is recovered."""
_ACTIVE_LOCK = threading.Lock()


def _now() -> float:
    return time.time()


class Unpinned(UsageError):
    """The instance has no pinned IR (migrated from a v1.0 store): it can be
    read from its stored records, not driven or decided on."""

    def __init__(self, state: StateRecord) -> None:
        super().__init__(
            f"instance {state.instance_id} has no pinned IR (it was migrated from a v1.0 "
            "store): `status`, `history` and `artifacts` show it, but it cannot be driven "
            "or decided on; start a new instance instead")
        self.state = state


def _checked_ir(doc: dict[str, Any], ref: IRRef) -> dict[str, Any]:
    """Pinned IR read back from the store is foreign to this process: it is
    validated (linear in its size) before anything runs on it, once per
    engine (the engine keeps it by sha256)."""
    from chatflow.compiler.ir import load_ir

    try:
        return load_ir(doc)
    except ChatflowError as exc:
        raise StoreError(f"pinned IR {ref.key} (sha256 {ref.sha256[:12]}) cannot be used: "
                         f"{exc.message}") from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------- runtime view


class _Runtime:
    """The engine's in-memory view of one instance (kept between calls and
    reloaded only when the store's revision moved)."""

    def __init__(self, status: StatusRecord, state: StateRecord, ir: dict[str, Any],
                 graph: FlowGraph) -> None:
        self.status = status
        self.state = state
        self.ir = ir
        self.flow_key = str(state.extra.get("flow_key") or ir["entry"])
        self.flow: dict[str, Any] = ir["flows"][self.flow_key]
        self.graph = graph
        self.steps: dict[str, StepRecord] = dict(state.steps)
        self.blank: dict[str, StepRecord] = {}  # pending records handed out by step()
        self.vars: dict[str, Any] = dict(state.variables)
        self.outputs: dict[str, Any] = dict(state.outputs)
        self.extra: dict[str, Any] = dict(state.extra)
        self.sched = Schedule(graph, {n: r.status for n, r in self.steps.items()})
        self.running: set[str] = {n for n, r in self.steps.items()
                                  if r.status == RUNNING and n in graph.step_set}
        self.waiting: set[str] = {
            n for n, r in self.steps.items() if r.status == WAITING_APPROVAL
        }
        # pending change
        self.status_changes: dict[str, Any] = {}
        self.dirty_steps: dict[str, StepRecord] = {}
        self.var_changes: dict[str, Any] = {}
        self.output_changes: dict[str, Any] = {}
        self.extra_changes: dict[str, Any] = {}
        self.children: list[str] = []
        self.all_children: list[str] = list(state.children)
        self.events: list[NewEvent] = []
        # done once the lock is released (the engine never holds two
        # instances' locks at once): children to stop, spending to roll up
        self.stop_children: list[tuple[str, str, str]] = []  # (child, status, error)
        self.child_stop: tuple[str, str] = (CANCELLED, "cancelled")
        self.after_unlock: list[Callable[[], None]] = []
        self.limits = limits_from_settings(self.flow.get("settings"))
        self.has_limits = bool(self.limits)  # read per step: computed once
        self.var_types: dict[str, Any] = {}  # the first declaration of a name wins
        for v in self.flow.get("vars", []):
            self.var_types.setdefault(v["name"], v.get("type"))

    @property
    def instance_id(self) -> str:
        return self.status.instance_id

    @property
    def automation(self) -> int:
        return 100 if self.status.automation is None else int(self.status.automation)

    @property
    def inst_status(self) -> str:
        return str(self.status_changes.get("status", self.status.status))

    def step(self, nid: str) -> StepRecord:
        rec = self.steps.get(nid)
        if rec is not None:
            return rec
        # a step not run yet is read several times before it first runs:
        # build its (immutable) pending record once, not on every read
        rec = self.blank.get(nid)
        if rec is None:
            rec = self.blank[nid] = StepRecord(name=nid)
        return rec

    def put(self, rec: StepRecord) -> None:
        self.blank.pop(rec.name, None)
        self.steps[rec.name] = rec
        self.dirty_steps[rec.name] = rec
        if rec.status == RUNNING and rec.name in self.graph.step_set:
            self.running.add(rec.name)
        else:
            self.running.discard(rec.name)
        if rec.status == WAITING_APPROVAL:
            self.waiting.add(rec.name)
        else:
            self.waiting.discard(rec.name)

    def event(self, etype: str, step: str | None = None, **data: Any) -> None:
        self.events.append(NewEvent(etype, step, data, utc_now()))

    def has_changes(self) -> bool:
        return bool(self.status_changes or self.dirty_steps or self.var_changes
                    or self.output_changes or self.extra_changes or self.children
                    or self.events)

    def take_change(self) -> Change:
        # the pending dicts are handed over (not copied) and replaced by empty
        # ones: nothing else holds them, and this runs once per durable step
        ch = Change(
            status=self.status_changes,
            steps=tuple(self.dirty_steps.values()),
            variables=self.var_changes,
            outputs=self.output_changes,
            extra=self.extra_changes,
            children=tuple(self.children),
            events=tuple(self.events),
        )
        self.status_changes = {}
        self.dirty_steps = {}
        self.var_changes = {}
        self.output_changes = {}
        self.extra_changes = {}
        self.children.clear()
        self.events = []
        return ch


class _Scope:
    """The evaluator's view of an instance (lazy: nothing is copied)."""

    def __init__(self, rt: _Runtime, attempt: int = 1,
                 self_fields: Mapping[str, Any] | None = None) -> None:
        self.rt = rt
        self.attempt = attempt
        self.self_fields = self_fields or {}

    def param(self, name: str) -> Any:
        inputs = self.rt.state.inputs
        if name not in inputs:
            raise EvalError(f"unknown parameter `{name}`")
        return inputs[name]

    def var(self, name: str) -> Any:
        if name not in self.rt.vars:
            raise EvalError(f"unknown variable `{name}`")
        return self.rt.vars[name]

    def ctx(self, name: str) -> Any:
        st = self.rt.status
        values = {
            "instance_id": st.instance_id,
            "feature_id": st.feature_id,
            "automation": self.rt.automation,
            "attempt": self.attempt,
            "depth": st.depth,
        }
        if name not in values:
            raise EvalError(f"unknown context value `ctx.{name}`")
        return values[name]

    def step_field(self, step: str, field: str) -> Any:
        rec = self.rt.steps.get(step)
        if rec is None:
            return None
        return rec.outputs.get(field)

    def self_field(self, name: str) -> Any:
        if name not in self.self_fields:
            raise EvalError(f"unknown field of this step `{name}`")
        return self.self_fields[name]


@dataclass
class Claim:
    """A step this engine committed as `running` and now executes unlocked."""

    instance_id: str
    step: str
    action: dict[str, Any]
    options: dict[str, Any]
    attempt: int
    owner: str
    rendered: dict[str, Any] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)
    """Set to kill the action (cancel, fail-fast, quota stop)."""
    strategy: str = "sequential"  # the flow's `parallelism`


@dataclass
class ActionOutcome:
    """What running an action gave: success, its fields, an error message."""

    ok: bool
    fields: dict[str, Any]
    error: str | None = None
    tokens: int = 0
    cpu_s: float = 0.0
    pause: bool = False  # a call step whose child waits for a person
    depth_exceeded: bool = False
    depth: int = 0
    limit: int = 0


ActionRunner = Callable[["Engine", Claim, str], ActionOutcome]
"""Runs one claimed step (no lock held). Third argument: the step's task dir."""


# ---------------------------------------------------------------------------- the engine


class Engine:
    """Drives instances stored in one `StateStore`. Thread-safe: every
    transition happens under the store's per-instance lock plus a process-local
    lock per instance (file locks do not exclude threads of one process)."""

    def __init__(self, store: Any, *, action_runner: ActionRunner | None = None,
                 workdir: str | None = None, max_depth: int = DEFAULT_MAX_DEPTH,
                 config: Any = None) -> None:
        self.store = store
        self.config = config
        self.max_depth = max_depth
        self.workdir = workdir or os.getcwd()
        self._runner = action_runner
        self._cache: dict[str, _Runtime] = {}
        self._graphs: dict[str, FlowGraph] = {}
        self._irs: dict[str, dict[str, Any]] = {}
        self._pins: dict[tuple[int, str, str], tuple[dict[str, Any], IRRef]] = {}
        self._tlocks: dict[str, threading.RLock] = {}
        self._meta = threading.Lock()
        self._token = uuid.uuid4().hex[:12]
        self._local = threading.local()
        self._cancel_events: dict[str, threading.Event] = {}
        self.owner = f"{_HOST}:{os.getpid()}:{self._token}"
        self._watched: dict[tuple[str, str], Claim] = {}
        self._watcher: threading.Thread | None = None
        self._interrupted = threading.Event()
        """Set on Ctrl-C / SIGTERM: running steps are killed and their results
        dropped; each is recorded as interrupted (see `_interrupt`)."""

    # ------------------------------------------------------------------ locking / loading

    def _tlock(self, instance_id: str) -> threading.RLock:
        with self._meta:
            lk = self._tlocks.get(instance_id)
            if lk is None:
                lk = self._tlocks[instance_id] = threading.RLock()
            return lk

    class _Locked:
        def __init__(self, engine: Engine, instance_id: str) -> None:
            self.engine = engine
            self.instance_id = instance_id
            self.tl = engine._tlock(instance_id)
            self.cm: Any = None

        def __enter__(self) -> _Runtime:
            self.tl.acquire()
            held = self.engine._held()
            held[self.instance_id] = held.get(self.instance_id, 0) + 1
            try:
                self.cm = self.engine.store.lock(self.instance_id)
                self.cm.__enter__()
                return self.engine._load(self.instance_id)
            except BaseException:
                if self.cm is not None:
                    self.cm.__exit__(None, None, None)
                held[self.instance_id] -= 1
                self.tl.release()
                raise

        def __exit__(self, *exc: object) -> None:
            stops: list[tuple[str, str, str]] = []
            later: list[Callable[[], None]] = []
            held = self.engine._held()
            held[self.instance_id] -= 1
            outermost = held[self.instance_id] == 0
            rt = self.engine._cache.get(self.instance_id)
            if outermost and exc[0] is None and rt is not None and not rt.has_changes():
                stops, rt.stop_children = rt.stop_children, []
                later, rt.after_unlock = rt.after_unlock, []
            try:
                self.cm.__exit__(*exc)
            finally:
                self.tl.release()
            # another instance is locked only once this one's lock is released:
            # the engine never holds two instances' locks at once
            for child, status, error in stops:
                with contextlib.suppress(ChatflowError):
                    self.engine.stop_instance(child, status, error)
            for fn in later:
                fn()

    def _held(self) -> dict[str, int]:
        """How often this thread holds each instance's lock (re-entrant)."""
        held: dict[str, int] | None = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = {}
        return held

    def locked(self, instance_id: str) -> _Locked:
        return Engine._Locked(self, instance_id)

    def _ir_for(self, state: StateRecord) -> dict[str, Any]:
        ref = state.ir_ref
        if ref is None:
            raise Unpinned(state)
        ir = self._irs.get(ref.sha256)
        if ir is None:
            ir = _checked_ir(self.store.load_ir(ref), ref)
            self._irs[ref.sha256] = ir
        return ir

    def _graph_for(self, ir: dict[str, Any], sha: str, flow_key: str) -> FlowGraph:
        key = f"{sha}:{flow_key}"
        g = self._graphs.get(key)
        if g is None:
            g = self._graphs[key] = FlowGraph.from_ir(ir["flows"][flow_key])
        return g

    def _load(self, instance_id: str) -> _Runtime:
        status = self.store.load_status(instance_id)
        rt = self._cache.get(instance_id)
        if rt is not None and rt.status.rev == status.rev:
            return rt
        state = self.store.load_state(instance_id)
        ir = self._ir_for(state)
        assert state.ir_ref is not None
        flow_key = str(state.extra.get("flow_key") or ir["entry"])
        rt = _Runtime(status, state, ir, self._graph_for(ir, state.ir_ref.sha256, flow_key))
        self._cache[instance_id] = rt
        return rt

    def _commit(self, rt: _Runtime) -> None:
        if not rt.has_changes():
            return
        ch = rt.take_change()
        try:
            rt.status = self.store.commit(rt.instance_id, ch, rt.status.rev)
        except BaseException:
            self._cache.pop(rt.instance_id, None)
            raise
        sink: EventSink | None = getattr(self._local, "sink", None)
        if sink is not None:
            for ev in ch.events:
                try:  # noqa: SIM105 (contextlib.suppress costs ~1 µs per event)
                    sink(ev.type, ev.step, ev.data)
                except Exception:  # a display bug must never break a run
                    pass

    def _emit(self, etype: str, step: str | None, data: Mapping[str, Any]) -> None:
        sink: EventSink | None = getattr(self._local, "sink", None)
        if sink is not None:
            with contextlib.suppress(Exception):  # a display bug must never break a run
                sink(etype, step, data)

    # ------------------------------------------------------------------ start

    def start(self, ir: dict[str, Any], *, flow_key: str | None = None,
              inputs: Mapping[str, Any] | None = None, feature_id: str | None = None,
              automation: int | None = None, parent_instance_id: str | None = None,
              depth: int = 0, instance_id: str | None = None) -> WorkflowStartResult:
        if ir.get("ir_version") == 1:
            from chatflow.compiler.ir import upgrade_ir

            ir = upgrade_ir(ir)
        key = flow_key or str(ir["entry"])
        if key not in ir["flows"]:
            raise UsageError(f"flow `{key}` is not in the IR")
        flow = ir["flows"][key]
        settings = flow.get("settings") or {}
        level = automation if automation is not None else settings.get("automation", 100)
        if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 100:
            raise UsageError(f"automation must be an integer 0..100, got {level!r}")
        values = bind_inputs(flow, dict(inputs or {}))
        iid = instance_id or new_instance_id(str(flow.get("name", key)))
        now = utc_now()
        name = str(flow.get("name", key))
        version = str(settings.get("version", "0"))
        # the store hashes the IR when pinning it (once per IR object here:
        # every `call` step starts a child from the same IR)
        pinned = self._pins.get((id(ir), name, version))
        ref = pinned[1] if pinned is not None and pinned[0] is ir else None
        graph = self._graphs.get(f"{ref.sha256}:{key}") if ref is not None else None
        if graph is None:
            graph = FlowGraph.from_ir(flow)
        status = StatusRecord(
            instance_id=iid, flow=name,
            flow_version=str(settings.get("version", "")), status=RUNNING,
            feature_id=feature_id, parent_instance_id=parent_instance_id, depth=depth,
            automation=level, created_at=now, updated_at=now,
        )
        state = StateRecord(instance_id=iid, inputs=values, variables={}, ir_ref=ref,
                            extra={"flow_key": key})
        # vars are evaluated with the params in scope
        tmp = _Runtime(status, state, ir, graph)
        variables: dict[str, Any] = {}
        for v in flow.get("vars", []):
            try:
                val = evaluate(v["value"], _Scope(tmp))
            except EvalError as exc:
                raise UsageError(f"var `{v['name']}`: {exc}") from None
            variables[v["name"]] = val
            tmp.vars[v["name"]] = val
        if ref is None:
            ref = self.store.pin_ir(ir, name, version)
            if len(self._pins) >= 64:
                self._pins.clear()
            self._pins[(id(ir), name, version)] = (ir, ref)
            self._graphs.setdefault(f"{ref.sha256}:{key}", graph)
        state = StateRecord(instance_id=iid, inputs=values, variables=variables, ir_ref=ref,
                            extra={"flow_key": key})
        self._irs[ref.sha256] = ir
        events = [NewEvent("instance_started", None, {
            "flow": status.flow, "flow_key": key, "inputs": values,
            "automation": level, "feature_id": feature_id,
            "parent_instance_id": parent_instance_id, "depth": depth,
        }, now)]
        self.store.create_instance(status, state, events)
        return WorkflowStartResult(iid, status.flow, RUNNING, feature_id, level,
                                   parent_instance_id, depth)

    # ------------------------------------------------------------------ driving

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
        previous = getattr(self._local, "sink", None)
        if sink is not None:
            self._local.sink = sink
        current_sink = getattr(self._local, "sink", None)
        ran: list[str] = []
        inflight: dict[str, threading.Thread] = {}
        done: queue.Queue[tuple[str, BaseException | None]] = queue.Queue()
        errors: list[BaseException] = []

        def reap(block: bool) -> None:
            try:
                step, exc = done.get(timeout=POLL_S) if block else done.get_nowait()
            except queue.Empty:
                if block:  # a Ctrl-C may have cut a reap short after its get()
                    for name in [n for n, t in inflight.items() if not t.is_alive()]:
                        del inflight[name]
                return
            t = inflight.pop(step, None)
            if t is None:
                return
            t.join()
            ran.append(step)
            if exc is not None:
                errors.append(exc)
            reap(False)

        interrupted: list[str] | None = None  # after Ctrl-C: instances with killed steps
        prestarted = False
        try:
            while not errors and not self._interrupted.is_set():
                reap(False)
                budget = None if max_steps is None else max_steps - len(ran) - len(inflight)
                if budget is not None and budget <= 0:
                    break
                with self.locked(instance_id) as rt:
                    claims: list[Claim] = []
                    strategy = _strategy(rt.flow)
                    if rt.inst_status not in (SUCCEEDED, FAILED, CANCELLED):
                        self._recover(rt)
                        claims = self._advance(rt, budget, ran,
                                               1 if strategy == "sequential" else None)
                        self._update_instance_status(rt)
                        self._commit(rt)
                    others = [n for n in rt.running if n not in inflight]
                    inst_status = rt.inst_status
                    if strategy == "parallel" and not prestarted:
                        prestarted = True
                        _prestart_workers(rt.graph)
                for claim in claims:
                    t = threading.Thread(target=self._execute_in_thread,
                                         args=(claim, done, current_sink),
                                         name=f"chatflow-{claim.step}", daemon=True)
                    inflight[claim.step] = t
                    t.start()
                if strategy == "sequential":
                    while inflight:  # one step at a time, in source order
                        reap(True)
                if claims:
                    continue
                if inflight:
                    reap(True)
                    continue
                if inst_status in (SUCCEEDED, FAILED, CANCELLED):
                    break
                if others and wait_for_others:
                    time.sleep(POLL_S)
                    continue
                break
        except BaseException as exc:
            if isinstance(exc, Exception):
                raise
            self._interrupted.set()
            interrupted = [instance_id, *self._kill_all()]
            raise
        finally:
            with _ignoring_sigint(interrupted is not None):
                while inflight:  # stopped early: the running steps were killed
                    reap(True)
                if interrupted is not None:
                    self._record_interruptions(interrupted)
            self._local.sink = previous
        if errors:
            raise errors[0]
        return self.instance_state(instance_id, ran)

    def _kill_all(self) -> list[str]:
        """Kill every step this engine runs (any instance, sub-flows too);
        returns the instances they belong to."""
        with _ACTIVE_LOCK:
            mine = [(iid, ev) for (owner, iid, _), ev in _ACTIVE.items()
                    if owner == self.owner]
        for _, ev in mine:
            ev.set()
        return [iid for iid, _ in mine]

    def _record_interruptions(self, instance_ids: list[str]) -> None:
        """After an interrupt, once every step thread has ended: each step
        left `running` by this engine is recorded as a crash recovery would
        (`step_interrupted`; pending again at level 100 or with retries left,
        else held in doubt), so `resume` goes on from there."""
        with _ACTIVE_LOCK:
            mine = [k for k in _ACTIVE if k[0] == self.owner]
            for k in mine:  # claimed but never started
                del _ACTIVE[k]
        self._cache.clear()  # drop changes an interrupt may have left uncommitted
        for iid in dict.fromkeys(instance_ids):
            with contextlib.suppress(ChatflowError), self.locked(iid) as rt:
                if rt.running:
                    self._recover(rt)
                    self._update_instance_status(rt)
                    self._commit(rt)
        self._interrupted.clear()

    def _execute_in_thread(self, claim: Claim,
                           done: queue.Queue[tuple[str, BaseException | None]],
                           sink: EventSink | None) -> None:
        self._local.sink = sink
        error: BaseException | None = None
        try:
            self._execute(claim)
        except BaseException as exc:  # re-raised by the driving thread
            error = exc
        finally:
            done.put((claim.step, error))

    def instance_state(self, instance_id: str, ran: list[str]) -> WorkflowInstanceState:
        with self.locked(instance_id) as rt:
            return WorkflowInstanceState(
                instance_id, rt.inst_status, rt.sched.progress(), ran,
                sorted(rt.waiting, key=rt.graph.index.__getitem__),
                sorted(rt.running, key=rt.graph.index.__getitem__))

    # ------------------------------------------------------------------ resolution

    def _advance(self, rt: _Runtime, budget: int | None, ran: list[str],
                 capacity: int | None = 1) -> list[Claim]:
        """Resolve eligible nodes (cancel / skip / start groups / gate / run
        inline actions) and claim steps that must run outside the lock, until
        `capacity` claims were made (None: every runnable one), nothing is
        eligible, or `budget` steps ran or were claimed. Commits after each
        inline step so every completed step is durable before the next
        starts. A `parallel NAME max N` group never has more than N running
        members: the others stay eligible for a later call."""
        sched = rt.sched
        claims: list[Claim] = []
        executed = 0
        held: set[str] = set()  # eligible, but their group is at its `max`
        while rt.inst_status not in (SUCCEEDED, FAILED, CANCELLED):
            if claims and capacity is not None and len(claims) >= capacity:
                break
            grp = sched.pop_group_done()
            if grp is not None:
                self._finish_group(rt, grp)
                continue
            if sched.done:
                self._finish_instance(rt)
                break
            nid = sched.next_eligible() if not held else \
                next((n for n in sched.eligible() if n not in held), None)
            if nid is None:
                break
            node = rt.graph.nodes[nid]
            blocker = sched.blocking_dep(nid)
            if blocker is not None:
                self._finish_node(rt, nid, CANCELLED,
                                  error=f"dependency `{blocker}` did not succeed")
                continue
            if self._group_full(rt, nid):
                held.add(nid)
                continue
            when = node.get("when")
            if when is not None:
                try:
                    ok = evaluate(when, _Scope(rt))
                except EvalError as exc:
                    self._finish_node(rt, nid, FAILED, error=self._where(rt, nid, "when", exc))
                    continue
                if ok is not True:
                    if ok is not False:  # a json value read at run time
                        self._finish_node(rt, nid, FAILED, error=self._where(
                            rt, nid, "when", EvalError(f"must be bool, got {describe(ok)}")))
                        continue
                    self._finish_node(rt, nid, SKIPPED, when=ok)
                    continue
            if rt.graph.is_group(nid):
                self._start_group(rt, nid)
                continue
            if budget is not None and executed + len(claims) >= budget:
                break
            if self._quota_stop_before(rt, nid):
                break
            claim = self._resolve_step(rt, nid)
            if claim is not None:
                claims.append(claim)
                continue
            if rt.step(nid).status in STEP_FINISHED:
                executed += 1
                ran.append(nid)
                self._update_instance_status(rt)
                self._commit(rt)
        return claims

    def _group_full(self, rt: _Runtime, nid: str) -> bool:
        """Whether `nid`'s `parallel` group already runs `max` members."""
        p = rt.graph.parent[nid]
        if p is None:
            return False
        limit = rt.graph.nodes[p].get("max")
        if rt.graph.kind(p) != "parallel" or not limit:
            return False
        status = rt.sched.status
        return sum(1 for m in rt.graph.members[p] if status[m] == RUNNING) >= int(limit)

    def _where(self, rt: _Runtime, nid: str, what: str, exc: Exception) -> str:
        span = rt.graph.nodes[nid].get("span") or {}
        src = (rt.flow.get("source") or {}).get("file")
        loc = ""
        if span.get("line"):
            loc = f" ({src}:{span['line']})" if src else f" (line {span['line']})"
        return f"step `{nid}`{loc}: {what}: {exc}"

    def _gate(self, rt: _Runtime, nid: str) -> str | None:
        """Why `nid` must wait for a person before it runs, or None."""
        level = rt.automation
        if level == 100:  # checked first: the common case, no record read
            return None
        if rt.step(nid).extra.get("approved_to_run"):
            return None
        node = rt.graph.nodes[nid]
        if node["action"]["type"] == "approve":
            return "approve"
        risk = int((node.get("options") or {}).get("risk", 0))
        if risk >= level:
            return "risk"
        return None

    def _resolve_step(self, rt: _Runtime, nid: str) -> Claim | None:
        node = rt.graph.nodes[nid]
        action = node["action"]
        atype = action["type"]
        rec = rt.step(nid)
        gate = self._gate(rt, nid)
        if gate is not None:
            self._wait(rt, nid, gate)
            return None
        if atype == "approve":  # level 100: approved without a person
            try:
                msg = render(action["message"], _Scope(rt))
            except EvalError as exc:
                msg = str(exc)
            self._started(rt, nid, attempt=1)
            self._complete(rt, nid, SUCCEEDED, {"approved": True, "by": "automation",
                                               "comment": ""}, attempts=1, message=msg,
                           **self._account_inline(rt))
            return None
        if atype == "set":
            self._started(rt, nid, attempt=rec.attempts + 1)
            try:
                value = evaluate(action["value"], _Scope(rt, rec.attempts + 1))
                var_type = rt.var_types.get(action["var"])
                if var_type and not check_type(value, var_type):
                    raise EvalError(mismatch(value, var_type),
                                    f"set {action['var']}")
            except EvalError as exc:
                self._complete(rt, nid, FAILED, {}, attempts=rec.attempts + 1,
                               error=self._where(rt, nid, "set", exc))
                return None
            rt.vars[action["var"]] = value
            rt.var_changes[action["var"]] = value
            self._complete(rt, nid, SUCCEEDED, {}, attempts=rec.attempts + 1,
                           **self._account_inline(rt))
            return None
        if atype == "fail":
            self._started(rt, nid, attempt=rec.attempts + 1)
            try:
                msg = render(action["message"], _Scope(rt))
            except EvalError as exc:
                msg = str(exc)
            self._complete(rt, nid, FAILED, {}, attempts=rec.attempts + 1, error=msg,
                           **self._account_inline(rt))
            if not (node.get("options") or {}).get("continue_on_error"):
                self._fail_instance(rt, f"step `{nid}` failed: {msg}")
            return None
        # an action with side effects: claim it (a call step going back to a
        # child a person decided on goes on with the same attempt)
        resumed = bool(rec.extra.get("resume_child"))
        attempt = rec.attempts if resumed else rec.attempts + 1
        claim = Claim(rt.instance_id, nid, action, dict(node.get("options") or {}),
                      attempt, self.owner, strategy=_strategy(rt.flow))
        err = self._render_claim(rt, claim)
        if err is not None:
            self._started(rt, nid, attempt=attempt)
            self._complete(rt, nid, FAILED, {"ok": False}, attempts=attempt, error=err)
            return None
        timeout = claim.options.get("timeout_ms")
        lease = _now() + (timeout / 1000.0 + 60.0 if timeout else DEFAULT_LEASE_S)
        extra = dict(rec.extra)
        extra.pop("gate", None)
        extra.pop("in_doubt", None)
        extra.pop("resume_child", None)
        if atype == "call" and "child_instance_id" not in extra:
            extra["child_instance_id"] = new_instance_id(
                str(rt.ir["flows"][action["flow"]].get("name", action["flow"])))
            claim.rendered["child_instance_id"] = extra["child_instance_id"]
            rt.children.append(extra["child_instance_id"])
            rt.all_children.append(extra["child_instance_id"])
        elif atype == "call":
            claim.rendered["child_instance_id"] = extra["child_instance_id"]
        rt.put(StepRecord(name=nid, status=RUNNING, attempts=attempt, outputs=rec.outputs,
                          started_at=rec.started_at or utc_now(),
                          finished_at=rec.finished_at, owner=self.owner, lease_until=lease,
                          iterations=rec.iterations, error=rec.error, extra=extra))
        rt.sched.set_status(nid, RUNNING)
        view = _event_view(claim.rendered)
        if resumed:
            view["resumed"] = True
        self._started(rt, nid, attempt=attempt, owner=self.owner, **view)
        with _ACTIVE_LOCK:
            _ACTIVE[(self.owner, rt.instance_id, nid)] = claim.cancel
        return claim

    def _started(self, rt: _Runtime, nid: str, **data: Any) -> None:
        """The `step_started` event (with the iteration, inside a repeat)."""
        iteration = self._iteration_of(rt, nid)
        if iteration is not None:
            data["iteration"] = iteration
        rt.event("step_started", nid, **data)

    def _render_claim(self, rt: _Runtime, claim: Claim) -> str | None:
        """Interpolate everything the action needs (under the lock, so the
        values are the committed ones). Returns an error message or None."""
        scope = _Scope(rt, claim.attempt)
        a = claim.action
        o = claim.options
        r = claim.rendered
        nid = claim.step
        try:
            if a["type"] == "shell":
                r["command"], r["bindings"] = bind_shell(a, scope)
            elif a["type"] == "python":
                r["target"] = a["target"]
            elif a["type"] == "agent":
                r["agent"] = a["agent"]
            elif a["type"] == "call":
                r["flow"] = a["flow"]
                r["args"] = {k: evaluate(v, scope) for k, v in (a.get("args") or {}).items()}
            if "prompt" in o:
                r["prompt"] = render(o["prompt"], scope)
            if "with" in o:
                r["with"] = {k: evaluate(v, scope) for k, v in o["with"].items()}
            if "env" in o:
                r["env"] = {k: render(v, scope) if isinstance(v, dict) and v.get("op") == "fmt"
                            else _env_text(evaluate(v, scope)) for k, v in o["env"].items()}
            if "cwd" in o:
                r["cwd"] = render(o["cwd"], scope)
        except EvalError as exc:
            return self._where(rt, nid, a["type"], exc)
        r["timeout_ms"] = o.get("timeout_ms")
        r["attempt"] = claim.attempt
        r["depth"] = rt.status.depth
        r["feature_id"] = rt.status.feature_id
        r["automation"] = rt.automation
        return None

    def _wait(self, rt: _Runtime, nid: str, gate: str, **data: Any) -> None:
        rec = rt.step(nid)
        extra = {**rec.extra, "gate": gate}
        message = None
        node = rt.graph.nodes[nid]
        started = rec.started_at
        if gate == "approve":  # a person's decision is this step's work
            try:
                message = render(node["action"]["message"], _Scope(rt))
            except EvalError as exc:
                message = str(exc)
            extra["message"] = message
            started = started or utc_now()
        rt.put(replace(rec, status=WAITING_APPROVAL, owner=None, lease_until=None, extra=extra,
                       started_at=started))
        rt.sched.set_status(nid, WAITING_APPROVAL)
        info: dict[str, Any] = {"gate": gate, **data}
        if message is not None:
            info["message"] = message
        if gate == "risk":
            info["risk"] = int((node.get("options") or {}).get("risk", 0))
            info["automation"] = rt.automation
        rt.event("step_waiting_approval", nid, **info)

    # ------------------------------------------------------------------ finishing

    def _complete(self, rt: _Runtime, nid: str, status: str, fields: dict[str, Any], *,
                  attempts: int | None = None, error: str | None = None,
                  **data: Any) -> None:
        """A step finished (after running, or by a decision)."""
        rec = rt.step(nid)
        node = rt.graph.nodes[nid]
        outs = dict(fields)
        if status in (SUCCEEDED, FAILED) and node.get("kind") == "step":
            for o in (node.get("options") or {}).get("out", []):
                try:
                    val = evaluate(o["value"], _Scope(rt, rec.attempts or 1, outs))
                    if not check_type(val, o["type"]):
                        raise EvalError(mismatch(val, o["type"]),
                                        f"out {o['name']}")
                    outs[o["name"]] = val
                except EvalError as exc:
                    outs[o["name"]] = None
                    if status == SUCCEEDED:
                        status = FAILED
                        outs["ok"] = False if "ok" in outs else outs.get("ok")
                        error = self._where(rt, nid, f"out {o['name']}", exc)
        extra = rec.extra
        if "gate" in extra or "in_doubt" in extra:
            extra = {k: v for k, v in extra.items() if k not in ("gate", "in_doubt")}
        # built directly: dataclasses.replace costs several µs per step
        now = utc_now()
        new = StepRecord(name=rec.name, status=status,
                         attempts=rec.attempts if attempts is None else attempts,
                         outputs=outs, started_at=rec.started_at or now, finished_at=now,
                         iterations=rec.iterations, error=error, extra=extra)
        rt.put(new)
        rt.sched.finish(nid, status)
        ev: dict[str, Any] = {"status": status, "attempts": new.attempts, "outputs": outs}
        if error:
            ev["error"] = error
        ev.update(data)
        iteration = self._iteration_of(rt, nid)
        if iteration is not None:
            ev["iteration"] = iteration
        rt.event("step_completed", nid, **ev)
        if status == FAILED and nid not in rt.graph.continue_on_error:
            self._fail_fast(rt, nid)

    def _iteration_of(self, rt: _Runtime, nid: str) -> int | None:
        """The iteration of the innermost repeat around `nid`, if any."""
        p = rt.graph.parent[nid]
        while p is not None:
            if rt.graph.kind(p) == "repeat":
                return int(rt.step(p).extra.get("iteration", 1))
            p = rt.graph.parent[p]
        return None

    def _fail_fast(self, rt: _Runtime, nid: str) -> None:
        """A member of a `parallel` group failed: cancel its unfinished
        siblings (running ones are killed) unless they are continue_on_error."""
        p = rt.graph.parent[nid]
        if p is None or rt.graph.kind(p) != "parallel" or rt.sched.status[p] != RUNNING:
            return
        ids: list[str] = []
        for m in rt.graph.members[p]:
            if m == nid or m in rt.graph.continue_on_error \
                    or rt.sched.status[m] in STEP_FINISHED:
                continue
            ids.append(m)
            ids.extend(rt.graph.subtree(m))
        if ids:
            self._cancel_nodes(rt, ids, f"`{nid}` failed in parallel group `{p}` (fail-fast)")

    def _cancel_nodes(self, rt: _Runtime, ids: list[str], reason: str) -> None:
        """Cancel unfinished nodes now, in the given (pre-)order: a running
        step is killed (its result, if it still comes, is discarded) and a
        running `call` step's child instance is cancelled too."""
        now = utc_now()
        for nid in ids:
            if rt.sched.status[nid] in STEP_FINISHED:
                continue
            rec = rt.step(nid)
            child = rec.extra.get("child_instance_id")
            if nid in rt.running:
                self._kill(rt.instance_id, rec)
            if child and (nid in rt.running or rec.status == WAITING_APPROVAL):
                rt.stop_children.append((str(child), *rt.child_stop))
            rt.put(replace(rec, status=CANCELLED, outputs={}, finished_at=now, owner=None,
                           lease_until=None, error=reason))
            rt.sched.finish_single(nid, CANCELLED)
            etype = "group_completed" if rt.graph.is_group(nid) else "step_completed"
            rt.event(etype, nid, status=CANCELLED, reason=reason)

    def _kill(self, instance_id: str, rec: StepRecord) -> None:
        """Kill a running step if this process executes it (other processes
        notice through their watcher: the step is no longer theirs)."""
        with _ACTIVE_LOCK:
            ev = _ACTIVE.get((rec.owner or "", instance_id, rec.name))
        if ev is not None:
            ev.set()

    def _finish_node(self, rt: _Runtime, nid: str, status: str, *,
                     error: str | None = None, when: Any = None) -> None:
        """Cancel / skip / fail a node that never ran (a group takes its
        members with it)."""
        rec = rt.step(nid)
        rt.put(StepRecord(name=nid, status=status, attempts=rec.attempts, outputs={},
                          started_at=rec.started_at, finished_at=utc_now(),
                          iterations=rec.iterations, error=error, extra=rec.extra))
        changed = rt.sched.finish(nid, status)
        data: dict[str, Any] = {"status": status}
        if error:
            data["error"] = error
        if status == SKIPPED:
            data["when"] = when
        etype = "group_completed" if rt.graph.is_group(nid) else "step_completed"
        rt.event(etype, nid, **data)
        for m in changed:
            rt.put(replace(rt.step(m), status=status, outputs={}, finished_at=utc_now(),
                           owner=None, lease_until=None))
            etype = "group_completed" if rt.graph.is_group(m) else "step_completed"
            rt.event(etype, m, status=status, reason=f"group `{nid}` {status}")

    def _start_group(self, rt: _Runtime, gid: str) -> None:
        rec = rt.step(gid)
        node = rt.graph.nodes[gid]
        iteration = 1
        if node.get("kind") == "repeat":
            iteration = int(rec.extra.get("iteration", 0)) + 1
        rt.put(replace(rec, status=RUNNING, started_at=utc_now(),
                       extra={**rec.extra, "iteration": iteration}))
        rt.sched.start_group(gid)
        rt.event("group_started", gid, kind=node.get("kind"), iteration=iteration)

    def _finish_group(self, rt: _Runtime, gid: str) -> None:
        node = rt.graph.nodes[gid]
        rec = rt.step(gid)
        failed = rt.sched.member_failed(gid)
        if node.get("kind") == "repeat":
            # a failure in the body only ends this iteration: `until` decides
            iteration = int(rec.extra.get("iteration", 1))
            try:
                held = evaluate(node["until"], _Scope(rt)) is True
            except EvalError as exc:
                self._group_done(rt, gid, FAILED, {"ok": False, "iterations": iteration},
                                 error=self._where(rt, gid, "until", exc))
                return
            limit = int(node.get("max") or 1)
            if held or iteration >= limit:
                err = None
                if not held:
                    err = f"repeat `{gid}` ran {iteration} times without `until` holding"
                self._group_done(rt, gid, SUCCEEDED if held else FAILED,
                                 {"ok": held, "iterations": iteration}, error=err)
                return
            # next iteration: archive this round's results, reset the body
            body = rt.graph.subtree(gid)
            snapshot = {m: _iteration_entry(rt.step(m), iteration) for m in body}
            rt.event("iteration_completed", gid, iteration=iteration, failed=failed)
            for m in rt.sched.reset_iteration(gid):
                old = rt.step(m)
                rt.put(StepRecord(name=m, iterations=(*old.iterations, snapshot[m]),
                                  outputs=old.outputs))
            rt.put(replace(rec, outputs={"ok": False, "iterations": iteration},
                           extra={**rec.extra, "iteration": iteration + 1}))
            return
        self._group_done(rt, gid, FAILED if failed else SUCCEEDED, {"ok": not failed})

    def _group_done(self, rt: _Runtime, gid: str, status: str, fields: dict[str, Any],
                    error: str | None = None) -> None:
        rec = rt.step(gid)
        rt.put(replace(rec, status=status, outputs=fields, finished_at=utc_now(), error=error))
        rt.sched.finish(gid, status)
        data: dict[str, Any] = {"status": status, "outputs": fields}
        if error:
            data["error"] = error
        rt.event("group_completed", gid, **data)
        if status == FAILED:
            self._fail_fast(rt, gid)

    def _finish_instance(self, rt: _Runtime) -> None:
        # failed iff a node's final record failed (not continue_on_error):
        # groups absorb failures for their dependents, not for the instance.
        # O(nodes), once per instance.
        failed_node = None
        for nid in rt.graph.order:
            if rt.sched.status[nid] == FAILED and nid not in rt.graph.continue_on_error:
                if failed_node is None or (nid in rt.graph.step_set
                                           and failed_node not in rt.graph.step_set):
                    failed_node = nid
                if nid in rt.graph.step_set:
                    break
        outputs, output_errors = self._bind_outputs(rt)
        error = None
        if output_errors and failed_node is None:
            name, why = next(iter(output_errors.items()))
            error = f"output `{name}`: {why}"
        stop = rt.extra.get("stop")
        status = FAILED if (failed_node is not None or error is not None or stop) \
            else SUCCEEDED
        if stop and failed_node is None:
            error = str(stop.get("error") or stop.get("kind"))
        if failed_node is not None:
            rec = rt.step(failed_node)
            error = f"step `{failed_node}` failed"
            if rec.error and rec.error.startswith(("step `", "repeat `")):
                error = rec.error
            elif rec.error:
                error += f": {rec.error}"
        self._end_pause(rt)
        data: dict[str, Any] = {"status": status, "outputs": outputs}
        if error:
            data["error"] = error
        if output_errors:
            data["output_errors"] = output_errors
        rt.status_changes.update(status=status, progress=rt.sched.progress(),
                                 current_steps=[], error=error)
        rt.event("instance_completed", None, **data)

    def _bind_outputs(self, rt: _Runtime) -> tuple[dict[str, Any], dict[str, str]]:
        """Bind the flow's outputs that evaluate to their declared type (see
        runtime/outputs.py); the others stay unbound, with why."""
        outputs, errors = bind_outputs(rt.flow.get("outputs", []), _Scope(rt),
                                       lambda step: rt.sched.status.get(step))
        rt.outputs.update(outputs)
        rt.output_changes.update(outputs)
        if errors:
            rt.extra["output_errors"] = rt.extra_changes["output_errors"] = errors
        return outputs, errors

    def _fail_instance(self, rt: _Runtime, error: str, status: str = FAILED) -> None:
        """Stop the instance now: every unfinished node is cancelled and
        running steps are killed (their late results are discarded)."""
        rt.child_stop = (status, error)  # a cancel cancels the children, a stop fails them
        self._cancel_nodes(rt, [n for n in rt.graph.order
                                if rt.sched.status[n] not in STEP_FINISHED], error)
        rt.child_stop = (CANCELLED, "cancelled")
        outputs, output_errors = self._bind_outputs(rt)
        self._end_pause(rt)
        rt.status_changes.update(status=status, error=error, progress=rt.sched.progress(),
                                 current_steps=[])
        data: dict[str, Any] = {"status": status, "error": error, "outputs": outputs}
        if output_errors:
            data["output_errors"] = output_errors
        rt.event("instance_completed", None, **data)

    def _update_instance_status(self, rt: _Runtime, driving: bool = True) -> None:
        """Recompute the instance's status, progress and current steps. A
        wait for a person (status `waiting_approval`) stops the `wall`
        clock; it runs again when a driver goes on (not at the decision:
        until `resume`, the instance still waits for a person)."""
        cur = rt.inst_status
        if cur in (SUCCEEDED, FAILED, CANCELLED):
            return
        new = RUNNING
        if rt.waiting and not rt.running and rt.sched.next_eligible() is None \
                and not rt.sched.groups_done:
            new = WAITING_APPROVAL
        if new == WAITING_APPROVAL:
            self._set_waiting(rt, pause_started(rt.extra.get("waiting"), utc_now()))
        elif driving and (rt.extra.get("waiting") or {}).get("since"):
            self._end_pause(rt)
        current = sorted(rt.running | rt.waiting, key=rt.graph.index.__getitem__) \
            if rt.running or rt.waiting else []
        changes: dict[str, Any] = {}
        if new != rt.status.status:
            changes["status"] = new
        if list(rt.status.current_steps) != current:
            changes["current_steps"] = current
        prog = rt.sched.progress()
        if prog != rt.status.progress:
            changes["progress"] = prog
        if changes and (rt.has_changes() or "status" in changes
                        or "current_steps" in changes):
            rt.status_changes.update(changes)

    def _end_pause(self, rt: _Runtime) -> None:
        """Close the open wait for a person, if any (its time is kept)."""
        waiting = rt.extra.get("waiting")
        if waiting:
            self._set_waiting(rt, pause_ended(waiting, utc_now()))

    def _set_waiting(self, rt: _Runtime, waiting: dict[str, Any] | None) -> None:
        if waiting is not None:
            rt.extra["waiting"] = rt.extra_changes["waiting"] = waiting

    # ------------------------------------------------------------------ crash recovery

    def _recover(self, rt: _Runtime) -> None:
        """Running steps whose owner is gone: re-run if they have retries
        left (or the level is 100), else hold them "in doubt"."""
        for nid in sorted(rt.waiting):
            rec = rt.step(nid)
            child = rec.extra.get("child_instance_id")
            if rec.extra.get("gate") != "child" or not child:
                continue
            try:  # still waiting if a step in it (or deeper) waits for a person
                waits = self.store.load_status(str(child)).status == WAITING_APPROVAL and \
                    any(p.decidable for p in waiting_points(self.store, str(child)))
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
        now = _now()
        for nid in sorted(rt.running):
            rec = rt.step(nid)
            if not self._orphaned(rt.instance_id, rec, now):
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

    def _orphaned(self, instance_id: str, rec: StepRecord, now: float) -> bool:
        owner = rec.owner or ""
        parts = owner.split(":")
        if len(parts) == 3 and parts[0] == _HOST:
            try:
                pid = int(parts[1])
            except ValueError:
                return True
            if pid == os.getpid():
                with _ACTIVE_LOCK:
                    return (owner, instance_id, rec.name) not in _ACTIVE
            return not _pid_alive(pid)
        return rec.lease_expired(now)

    # ------------------------------------------------------------------ executing

    def _execute(self, claim: Claim) -> None:
        """Run a claimed step (no lock held), with its retries, then commit."""
        self._watch(claim)
        try:
            while True:
                task_dir, temporary = self._task_dir(claim)
                try:
                    outcome = self._run_action(claim, task_dir)
                except Exception as exc:  # an adapter bug: the step fails, the run goes on
                    outcome = ActionOutcome(False, {"ok": False},
                                            f"{type(exc).__name__}: {exc}")
                if temporary:
                    self._upload_artifacts(claim, task_dir)
                if self._interrupted.is_set():  # killed by Ctrl-C: recorded by drive()
                    return
                with self.locked(claim.instance_id) as rt:
                    rec = rt.step(claim.step)
                    if rec.status != RUNNING or rec.owner != claim.owner:
                        # someone decided otherwise meanwhile (cancel, recovery)
                        rt.event("step_result_discarded", claim.step, attempt=claim.attempt,
                                 ok=outcome.ok)
                        self._commit(rt)
                        return
                    if outcome.pause:
                        self._wait(rt, claim.step, "child",
                                   child_instance_id=claim.rendered.get("child_instance_id"))
                        self._update_instance_status(rt)
                        self._commit(rt)
                        return
                    retry = claim.options.get("retry")
                    if not outcome.ok and retry and claim.attempt <= int(retry["times"]) \
                            and rt.inst_status not in (CANCELLED, FAILED):
                        delay = int(retry.get("backoff_ms", 0)) * (2 ** (claim.attempt - 1))
                        rt.event("step_retrying", claim.step, attempt=claim.attempt,
                                 error=outcome.error, delay_ms=delay)
                        claim.attempt += 1
                        err = self._render_claim(rt, claim)
                        rt.put(replace(rec, attempts=claim.attempt,
                                       lease_until=_now() + DEFAULT_LEASE_S))
                        self._started(rt, claim.step, attempt=claim.attempt,
                                      owner=claim.owner, **_event_view(claim.rendered))
                        self._commit(rt)
                        if err is None:
                            time.sleep(delay / 1000.0)
                            continue
                        outcome = ActionOutcome(False, {"ok": False}, err)
                    status = SUCCEEDED if outcome.ok else FAILED
                    spent = self._account(rt, step_spending(outcome.tokens, outcome.cpu_s))
                    self._complete(rt, claim.step, status, outcome.fields,
                                   attempts=claim.attempt, error=outcome.error, spent=spent)
                    if outcome.depth_exceeded:
                        rt.event("max_depth_exceeded", claim.step, error=outcome.error,
                                 depth=outcome.depth, limit=outcome.limit)
                        self._set_stop(rt, "max_depth", outcome.error or "max_depth exceeded")
                    self._advance(rt, 0, [], 0)  # settle groups / the instance in this commit
                    self._update_instance_status(rt)
                    self._commit(rt)
                    return
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.pop((claim.owner, claim.instance_id, claim.step), None)
                self._watched.pop((claim.instance_id, claim.step), None)

    # ------------------------------------------------------------------ the running-step watcher

    def _watch(self, claim: Claim) -> None:
        """Register a committed claim with the watcher (started on first use)."""
        with _ACTIVE_LOCK:
            self._watched[(claim.instance_id, claim.step)] = claim
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch_loop, daemon=True,
                                                 name="chatflow-watcher")
                self._watcher.start()

    def _watch_loop(self) -> None:
        """Every WATCH_S: for each instance with steps running here, read its
        status (small); when it finished (cancelled, failed, a quota stop),
        or its revision moved and a step's record is no longer ours (another
        process cancelled it), set that claim's cancel event, which kills the
        action. O(running steps) per round, independent of history."""
        revs: dict[str, int] = {}
        while True:
            time.sleep(WATCH_S)
            with _ACTIVE_LOCK:
                claims = list(self._watched.values())
            by_instance: dict[str, list[Claim]] = {}
            for c in claims:
                by_instance.setdefault(c.instance_id, []).append(c)
            for iid, group in by_instance.items():
                with contextlib.suppress(Exception):  # a store hiccup: try next round
                    self._check_claims(iid, group, revs)
            for iid in [i for i in revs if i not in by_instance]:
                del revs[iid]

    def _check_claims(self, iid: str, claims: list[Claim], revs: dict[str, int]) -> None:
        st = self.store.load_status(iid)
        if st.status in (SUCCEEDED, FAILED, CANCELLED):
            for c in claims:
                c.cancel.set()
            return
        self._check_wall(iid)
        if revs.get(iid) == st.rev:
            return
        revs[iid] = st.rev
        for c in claims:
            rec = self.store.load_step(iid, c.step)
            if rec is None or rec.status != RUNNING or rec.owner != c.owner:
                c.cancel.set()

    def _check_wall(self, iid: str) -> None:
        """Wall-time quotas are checked by the watcher too (a long step must
        not outlive its budget)."""
        rt = self._cache.get(iid)
        if rt is None or rt.limits.wall_ms is None:
            return
        wall = self._wall(rt).wall_ms
        if wall > rt.limits.wall_ms:
            tree = Spending.from_dict(rt.extra.get("spent_tree")).with_wall(wall)
            crossed = quota_check(rt.limits, tree, iid)
            if crossed is not None:
                self._quota_stop(crossed)

    def _account(self, rt: _Runtime, delta: Spending) -> dict[str, int]:
        """Quota bookkeeping for one executed step: add it to the instance's
        own spending (`extra.spent`) and its tree's (`extra.spent_tree`, own
        plus descendants') in this commit, check the instance's quotas, and
        roll it up to every ancestor once the lock is released (O(depth)).
        Returns what goes into the `step_completed` event."""
        own = Spending.from_dict(rt.extra.get("spent")) + delta
        tree = Spending.from_dict(rt.extra.get("spent_tree")) + delta
        rt.extra["spent"] = rt.extra_changes["spent"] = own.to_dict()
        rt.extra["spent_tree"] = rt.extra_changes["spent_tree"] = tree.to_dict()
        crossed = None
        if rt.has_limits:
            crossed = quota_check(rt.limits, tree.with_wall(self._wall(rt).wall_ms),
                                  rt.instance_id)
        parent = rt.status.parent_instance_id
        if crossed is not None or parent:
            rt.after_unlock.append(lambda: self._roll_up(parent, delta, crossed))
        return {"tokens": delta.tokens, "cpu_ms": delta.cpu_ms, "steps": delta.steps}

    def _account_inline(self, rt: _Runtime) -> dict[str, Any]:
        """A `set`/`fail`/automatic `approve` step counts as one step, but
        only where someone reads it (a quota here or above): a flow without
        quotas and parent keeps its commits as small as before."""
        if not rt.has_limits and not rt.status.parent_instance_id:
            return {}
        return {"spent": self._account(rt, Spending(steps=1))}

    def _wall(self, rt: _Runtime) -> WallClock:
        """What the `wall` quota counts: time since the instance was created
        minus the time it waited for a person (`extra.waiting`, committed
        with each status change, so a crash loses none of it)."""
        st = rt.status
        end = None
        if st.status in (SUCCEEDED, FAILED, CANCELLED):
            end = _epoch(st.updated_at)
        return wall_clock(st.created_at, end, rt.extra.get("waiting"))

    def _roll_up(self, parent: str | None, delta: Spending,
                 crossed: QuotaExceeded | None) -> None:
        """Add a step's spending to each ancestor's tree spending (one commit
        each) and stop the tree under the topmost instance whose quota it
        crossed."""
        seen: set[str] = set()
        while parent and parent not in seen and self.store.exists(parent):
            seen.add(parent)
            with self.locked(parent) as prt:
                tree = Spending.from_dict(prt.extra.get("spent_tree")) + delta
                prt.extra["spent_tree"] = prt.extra_changes["spent_tree"] = tree.to_dict()
                if prt.has_limits:
                    over = quota_check(prt.limits, tree.with_wall(self._wall(prt).wall_ms),
                                       prt.instance_id)
                    if over is not None:
                        crossed = over
                self._commit(prt)
                parent = prt.status.parent_instance_id
        if crossed is not None:
            self._quota_stop(crossed)

    def _quota_stop(self, crossed: QuotaExceeded) -> None:
        """A quota was crossed: the instance that set it, and its whole
        tree, fail now (running steps killed) with a `quota_exceeded` event."""
        assert crossed.instance_id is not None
        self.stop_instance(crossed.instance_id, FAILED, crossed.message,
                           event=("quota_exceeded", crossed.to_event_data()))

    def _quota_stop_before(self, rt: _Runtime, nid: str) -> bool:
        """Whether starting one more step would cross this instance's quota
        (then the instance stops here, and its tree once the lock is free)."""
        if not rt.has_limits or rt.inst_status in (SUCCEEDED, FAILED, CANCELLED):
            return False
        tree = Spending.from_dict(rt.extra.get("spent_tree"))
        crossed = quota_check_before_step(rt.limits, tree.with_wall(self._wall(rt).wall_ms),
                                          rt.instance_id)
        if crossed is None:
            return False
        rt.event("quota_exceeded", nid, **crossed.to_event_data())
        self._set_stop(rt, "quota_exceeded", crossed.message)
        self._fail_instance(rt, crossed.message, FAILED)
        # the children are failed by _fail_instance through stop_children
        return True

    def _task_dir(self, claim: Claim) -> tuple[str, bool]:
        """Where the step writes stdout/stderr/artifacts, and whether it is a
        temporary directory to upload (backends that keep blobs only)."""
        path = self.store.artifact_dir(claim.instance_id, claim.step)
        if path is not None:
            return str(path), False
        import tempfile

        return tempfile.mkdtemp(prefix="chatflow-task-"), True

    def _upload_artifacts(self, claim: Claim, task_dir: str) -> None:
        import shutil

        root = Path(task_dir)
        try:
            for f in sorted(root.rglob("*")):
                if f.is_file() and f.stat().st_size <= MAX_ARTIFACT_BYTES:
                    self.store.put_artifact(claim.instance_id, claim.step,
                                            f.relative_to(root).as_posix(), f.read_bytes())
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def _run_action(self, claim: Claim, task_dir: str) -> ActionOutcome:
        if self._runner is not None:
            return self._runner(self, claim, task_dir)
        from chatflow.runtime.step_actions import run_claim

        return run_claim(self, claim, task_dir)

    def link_child(self, parent_id: str, child_id: str) -> None:
        """Record `child_id` among `parent_id`'s children (create_subworkflow)."""
        with self.locked(parent_id) as rt:
            if child_id not in rt.all_children:
                rt.children.append(child_id)
                rt.all_children.append(child_id)
                self._commit(rt)

    def _max_depth(self, flow: Mapping[str, Any]) -> int:
        """`max_depth:` in the config, else the flow's setting, else 8."""
        configured = getattr(self.config, "max_depth", None)
        if configured is not None:
            return int(configured)
        return int((flow.get("settings") or {}).get("max_depth", self.max_depth))

    def _set_stop(self, rt: _Runtime, kind: str, error: str) -> None:
        """Remember that a stop (max_depth, quota) happened: the instance
        ends `failed` even if the step was continue_on_error."""
        if not rt.extra.get("stop"):
            rt.extra["stop"] = rt.extra_changes["stop"] = {"kind": kind, "error": error}

    def cancel_event(self, instance_id: str) -> threading.Event:
        """Set when this process cancels the instance (kills running steps)."""
        with self._meta:
            ev = self._cancel_events.get(instance_id)
            if ev is None:
                ev = self._cancel_events[instance_id] = threading.Event()
            return ev

    def run_call(self, claim: Claim) -> ActionOutcome:
        """A `call` step: start (or, after a crash, resume) the child
        instance and drive it in this thread."""
        child_id = str(claim.rendered["child_instance_id"])
        with self.locked(claim.instance_id) as rt:
            ir = rt.ir
            depth = rt.status.depth + 1
            limit = self._max_depth(rt.flow)
            feature_id = rt.status.feature_id
            level = rt.automation
        if depth > limit:
            err = (f"max_depth {limit} exceeded: calling `{claim.rendered['flow']}` would "
                   f"start an instance at depth {depth}")
            return ActionOutcome(False, {"ok": False}, err, depth_exceeded=True,
                                 depth=depth, limit=limit)
        if not self.store.exists(child_id):
            try:
                self.start(ir, flow_key=str(claim.rendered["flow"]),
                           inputs=dict(claim.rendered.get("args") or {}),
                           feature_id=feature_id, automation=level,
                           parent_instance_id=claim.instance_id, depth=depth,
                           instance_id=child_id)
            except ChatflowError as exc:
                return ActionOutcome(False, {"ok": False}, f"cannot start sub-flow: {exc}")
        sink: EventSink | None = getattr(self._local, "sink", None)
        result = self.drive(child_id, sink=None if sink is None else
                            _subflow_sink(sink, claim.step, child_id))
        if result.status == WAITING_APPROVAL:
            return ActionOutcome(False, {"ok": False}, None, pause=True)
        with self.locked(child_id) as crt:
            outputs = dict(crt.outputs)
            error = crt.status_changes.get("error", crt.status.error)
        ok = result.status == SUCCEEDED
        fields = {"ok": ok, **outputs, "instance_id": child_id}
        return ActionOutcome(ok, fields, None if ok else
                             f"sub-flow {child_id} {result.status}: {error or ''}".rstrip(": "))

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
                self._complete(rt, step, SUCCEEDED if approved else FAILED,
                               {"approved": approved, "by": by, "comment": comment},
                               attempts=1,
                               error=None if approved else f"rejected by {by}")
            elif approved:
                extra = {**rec.extra, "approved_to_run": True, "approval": decision}
                extra.pop("gate", None)
                rt.put(replace(rec, status=PENDING, extra=extra))
                rt.sched.set_status(step, PENDING)
                rt.sched.requeue(step)
            else:
                self._complete(rt, step, FAILED, {"ok": False},
                               error=f"rejected by {by}" + (f": {comment}" if comment else ""))
            # only the decision is recorded here; `resume` drives on (and
            # restarts the wall clock: until then a person is still needed)
            self._update_instance_status(rt, driving=False)
            self._commit(rt)
            return self._status_info(rt)

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
                    self._set_stop(rt, event[0] if event else "stop", error)
                self._fail_instance(rt, error, status=status)
                self._commit(rt)
            children = list(rt.all_children)
            info = self._status_info(rt)
        self.cancel_event(instance_id).set()
        for child in children:
            if self.store.exists(child) and not self.store.load_status(child).finished:
                self.stop_instance(child, status, error)
        return info

    # ------------------------------------------------------------------ reading

    def status_info(self, instance_id: str) -> WorkflowStatusInfo:
        try:
            with self.locked(instance_id) as rt:
                return self._status_info(rt)
        except Unpinned as exc:
            return _status_from_records(self.store.load_status(instance_id), exc.state)

    def step_names(self, instance_id: str) -> list[str]:
        """Every node of the instance's flow, in source order (an unpinned
        instance: the steps it recorded)."""
        try:
            with self.locked(instance_id) as rt:
                return list(rt.graph.order)
        except Unpinned as exc:
            return list(exc.state.steps)

    def _status_info(self, rt: _Runtime) -> WorkflowStatusInfo:
        steps: dict[str, StepInfo] = {}
        now = _now()
        for nid in rt.graph.order:
            rec = rt.step(nid)
            kind = rt.graph.kind(nid)
            # a duration once finished (to now while it runs; none while it waits)
            end = rec.finished_at if rec.status in STEP_FINISHED else None
            took = duration_ms(rec.started_at, end, now) \
                if end is not None or rec.status == RUNNING else None
            steps[nid] = StepInfo(rec.status, rec.attempts, dict(rec.outputs), kind,
                                  bool(rec.extra.get("in_doubt")), rec.error,
                                  self._iterations(rt, nid), rec.started_at, end, took,
                                  waiting_view(rec))
        st = rt.status
        declared = [o["name"] for o in rt.flow.get("outputs", [])]
        outputs = {k: rt.outputs[k] for k in declared if k in rt.outputs}
        clock = self._wall(rt)
        quota = None
        if rt.has_limits:
            spent = Spending.from_dict(rt.extra.get("spent_tree"))
            quota = quota_status(rt.limits, spent.with_wall(clock.wall_ms), clock.waiting_ms)
        return WorkflowStatusInfo(
            st.instance_id, st.flow, rt.inst_status, rt.sched.progress(), st.feature_id,
            outputs, steps,
            sorted(rt.running | rt.waiting, key=rt.graph.index.__getitem__),
            rt.automation, st.parent_instance_id, st.depth,
            rt.status_changes.get("error", st.error), st.created_at, st.updated_at,
            quota, list(rt.all_children), clock.waiting_ms,
            dict(rt.extra.get("output_errors") or {}))

    def _iterations(self, rt: _Runtime, nid: str) -> list[dict[str, Any]] | None:
        """Every iteration of a node inside a `repeat` (archived rounds, then
        the current record once it started); None outside repeats."""
        current = self._iteration_of(rt, nid)
        if current is None:
            return None
        rec = rt.step(nid)
        out = [dict(i) for i in rec.iterations]
        if rec.status != PENDING:
            out.append(_iteration_entry(rec, current))
        return out

    def workflow_state(self, instance_id: str) -> WorkflowState:
        try:
            return self._workflow_state(instance_id)
        except Unpinned as exc:
            unpinned = exc.state
            st = self.store.load_status(instance_id)
            return WorkflowState(
                instance_id, dict(unpinned.inputs), dict(unpinned.variables),
                {n: r.to_json() for n, r in unpinned.steps.items()}, dict(unpinned.outputs),
                st.parent_instance_id, list(unpinned.children), st.depth,
                {n: StepResult(n, r.status, r.attempts, dict(r.outputs), r.error,
                               [dict(i) for i in r.iterations])
                 for n, r in unpinned.steps.items()},
                dict(unpinned.extra.get("spent") or {}),
                dict(unpinned.extra.get("spent_tree") or {}))

    def _workflow_state(self, instance_id: str) -> WorkflowState:
        with self.locked(instance_id) as rt:
            results = {}
            for nid in rt.graph.order:
                rec = rt.step(nid)
                results[nid] = StepResult(nid, rec.status, rec.attempts, dict(rec.outputs),
                                          rec.error, self._iterations(rt, nid) or [])
            return WorkflowState(
                rt.instance_id, dict(rt.state.inputs), dict(rt.vars),
                {n: r.to_json() for n, r in rt.steps.items()}, dict(rt.outputs),
                rt.status.parent_instance_id, list(rt.all_children), rt.status.depth,
                results, dict(rt.extra.get("spent") or {}),
                dict(rt.extra.get("spent_tree") or {}))

    def history(self, instance_id: str) -> Iterator[WorkflowHistoryEvent]:
        for ev in self.store.iter_history(instance_id):
            yield WorkflowHistoryEvent(ev.seq, ev.type, ev.ts, ev.step, dict(ev.data))


# ---------------------------------------------------------------------------- helpers


def _status_from_records(st: StatusRecord, state: StateRecord) -> WorkflowStatusInfo:
    """The status object of an unpinned (migrated) instance, from what it
    stored: its status record and its step records."""
    steps = {n: StepInfo(r.status, r.attempts, dict(r.outputs), "step",
                         bool(r.extra.get("in_doubt")), r.error,
                         [dict(i) for i in r.iterations] or None)
             for n, r in state.steps.items()}
    return WorkflowStatusInfo(
        st.instance_id, st.flow, st.status, st.progress, st.feature_id, dict(state.outputs),
        steps, list(st.current_steps), st.automation if st.automation is not None else 100,
        st.parent_instance_id, st.depth, st.error, st.created_at, st.updated_at, None,
        list(state.children))


@contextlib.contextmanager
def _ignoring_sigint(active: bool) -> Iterator[None]:
    """While cleaning up after a Ctrl-C, a second one must not cut the
    cleanup short (only the main thread may change signal handlers)."""
    import signal

    if not active or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _prestart_workers(graph: FlowGraph) -> None:
    """A `parallel` flow: start as many worker processes as its widest
    `parallel` group can run at once (its `max`, at most its number of
    shell/python members; 16 at most) before its steps need them."""
    from chatflow.runtime.step_actions import POOL, WORKER_ACTIONS

    want = 1
    for gid, members in graph.members.items():
        if graph.kind(gid) != "parallel":
            continue
        n = sum(1 for m in members
                if (graph.nodes[m].get("action") or {}).get("type") in WORKER_ACTIONS)
        limit = graph.nodes[gid].get("max")
        want = max(want, min(n, int(limit)) if limit else n)
    POOL.prestart(min(want, 16))


def _strategy(flow: Mapping[str, Any]) -> str:
    """The flow's `parallelism`: sequential (default), concurrent, parallel."""
    value = (flow.get("settings") or {}).get("parallelism", "sequential")
    return str(value) if value in ("sequential", "concurrent", "parallel") else "sequential"


def _iteration_entry(rec: StepRecord, iteration: int) -> dict[str, Any]:
    """What a repeat keeps of one body node's round (no nested history)."""
    d: dict[str, Any] = {"iteration": iteration, "status": rec.status,
                         "attempts": rec.attempts, "outputs": dict(rec.outputs)}
    if rec.error:
        d["error"] = rec.error
    child = rec.extra.get("child_instance_id")
    if child:
        d["child_instance_id"] = child
    return d


def _subflow_sink(sink: EventSink, step: str, child_id: str) -> EventSink:
    """A child's progress events, relayed to its parent's sink with
    `data["subflow"] = {"path": [call steps, outermost first], "instance_id"}`."""
    def relay(etype: str, name: str | None, data: Mapping[str, Any]) -> None:
        sub = data.get("subflow") or {}
        sink(etype, name, {**data, "subflow": {
            "path": [step, *sub.get("path", ())],
            "instance_id": sub.get("instance_id", child_id)}})
    return relay


def _event_view(rendered: Mapping[str, Any]) -> dict[str, Any]:
    """What of a claim goes into the `step_started` event."""
    keys = ("command", "bindings", "target", "agent", "flow", "child_instance_id", "cwd")
    return {k: rendered[k] for k in keys if k in rendered}


def _env_text(value: Any) -> str:
    from chatflow.runtime.values import to_text

    return to_text(value)


def bind_inputs(flow: Mapping[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Check the given inputs against the flow's params; fill defaults."""
    params = flow.get("params", [])
    names = {p["name"] for p in params}
    unknown = sorted(set(inputs) - names)
    if unknown:
        known = ", ".join(sorted(names)) or "none"
        raise UsageError(f"unknown input(s) {', '.join(unknown)} (the flow's params: {known})")
    out: dict[str, Any] = {}
    empty = _EmptyScope()
    for p in params:
        name = p["name"]
        if name in inputs:
            val = inputs[name]
        elif "default" in p:
            try:
                val = evaluate(p["default"], empty)
            except EvalError as exc:
                raise UsageError(f"default of `{name}`: {exc}") from None
        else:
            raise UsageError(f"missing required input `{name}` ({p['type']})")
        if isinstance(val, int) and not isinstance(val, bool) and p["type"].startswith("float"):
            val = float(val)
        if not check_type(val, p["type"]):
            raise UsageError(f"input `{name}`: {mismatch(val, p['type'])}")
        out[name] = val
    return out


class _EmptyScope:
    def param(self, name: str) -> Any:
        raise EvalError(f"unknown parameter `{name}`")

    def var(self, name: str) -> Any:
        raise EvalError(f"unknown variable `{name}`")

    def ctx(self, name: str) -> Any:
        raise EvalError(f"unknown context value `ctx.{name}`")

    def step_field(self, step: str, field: str) -> Any:
        return None

    def self_field(self, name: str) -> Any:
        raise EvalError(f"unknown field `{name}`")
