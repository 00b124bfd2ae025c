"""The engine's access to stored instances: per-instance locking (the
store's lock plus a process-local one, re-entrant per thread), loading an
instance into an `Instance` (cached, reloaded only when the store's revision
moved; pinned IR validated once), committing its pending change, and handing
committed events to the calling thread's progress sink."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

from chatflow.diagnostics import ChatflowError
from chatflow.runtime.engine.instance import Instance, Unpinned
from chatflow.runtime.scheduler import FlowGraph
from chatflow.runtime.store.base import StateStore, StoreError
from chatflow.runtime.store.records import IRRef, StateRecord

EventSink = Callable[[str, str | None, Mapping[str, Any]], None]
"""Progress callback: (event type, step, data). Called after each commit."""

StopInstance = Callable[[str, str, str], object]
"""Stops an instance (id, status, error): a child whose parent stopped."""

StopInstanceWithEvent = Callable[[str, str, str, tuple[str, dict[str, Any]] | None], object]
"""Stops an instance (id, status, error, the event that says why)."""


def checked_ir(doc: dict[str, Any], ref: IRRef) -> dict[str, Any]:
    """Pinned IR read back from the store is foreign to this process: it is
    validated (linear in its size) before anything runs on it, once per
    engine (the engine keeps it by sha256)."""
    from chatflow.compiler.ir import load_ir

    try:
        return load_ir(doc)
    except ChatflowError as exc:
        raise StoreError(f"pinned IR {ref.key} (sha256 {ref.sha256[:12]}) cannot be used: "
                         f"{exc.message}") from None


class Instances:
    """Locks, loads and commits the instances of one store for one engine."""

    def __init__(self, store: StateStore, stop_instance: StopInstance) -> None:
        self.store = store
        self.stop_instance = stop_instance
        self.cache: dict[str, Instance] = {}
        self.graphs: dict[str, FlowGraph] = {}
        self.irs: dict[str, dict[str, Any]] = {}
        self.pins: dict[tuple[int, str, str], tuple[dict[str, Any], IRRef]] = {}
        self._tlocks: dict[str, threading.RLock] = {}
        self._meta = threading.Lock()
        self.local = threading.local()

    # ------------------------------------------------------------------ the sink

    @property
    def sink(self) -> EventSink | None:
        """This thread's progress sink."""
        sink: EventSink | None = getattr(self.local, "sink", None)
        return sink

    @sink.setter
    def sink(self, sink: EventSink | None) -> None:
        self.local.sink = sink

    # ------------------------------------------------------------------ locking

    def tlock(self, instance_id: str) -> threading.RLock:
        with self._meta:
            lk = self._tlocks.get(instance_id)
            if lk is None:
                lk = self._tlocks[instance_id] = threading.RLock()
            return lk

    def held(self) -> dict[str, int]:
        """How often this thread holds each instance's lock (re-entrant)."""
        held: dict[str, int] | None = getattr(self.local, "held", None)
        if held is None:
            held = self.local.held = {}
        return held

    def locked(self, instance_id: str) -> Locked:
        return Locked(self, instance_id)

    # ------------------------------------------------------------------ loading

    def ir_for(self, state: StateRecord) -> dict[str, Any]:
        ref = state.ir_ref
        if ref is None:
            raise Unpinned(state)
        ir = self.irs.get(ref.sha256)
        if ir is None:
            ir = checked_ir(self.store.load_ir(ref), ref)
            self.irs[ref.sha256] = ir
        return ir

    def graph_for(self, ir: dict[str, Any], sha: str, flow_key: str) -> FlowGraph:
        key = f"{sha}:{flow_key}"
        g = self.graphs.get(key)
        if g is None:
            g = self.graphs[key] = FlowGraph.from_ir(ir["flows"][flow_key])
        return g

    def load(self, instance_id: str) -> Instance:
        status = self.store.load_status(instance_id)
        rt = self.cache.get(instance_id)
        if rt is not None and rt.status.rev == status.rev:
            return rt
        state = self.store.load_state(instance_id)
        ir = self.ir_for(state)
        assert state.ir_ref is not None
        flow_key = str(state.extra.get("flow_key") or ir["entry"])
        rt = Instance(status, state, ir, self.graph_for(ir, state.ir_ref.sha256, flow_key))
        self.cache[instance_id] = rt
        return rt

    # ------------------------------------------------------------------ committing

    def commit(self, rt: Instance) -> None:
        if not rt.has_changes():
            return
        ch = rt.take_change()
        try:
            rt.status = self.store.commit(rt.instance_id, ch, rt.status.rev)
        except BaseException:
            self.cache.pop(rt.instance_id, None)
            raise
        sink: EventSink | None = getattr(self.local, "sink", None)
        if sink is not None:
            for ev in ch.events:
                try:  # noqa: SIM105 (contextlib.suppress costs ~1 µs per event)
                    sink(ev.type, ev.step, ev.data)
                except Exception:  # a display bug must never break a run
                    pass


class Locked:
    """`with instances.locked(id) as rt:` — the instance, loaded under its
    locks. When the outermost hold ends, children to stop and work queued
    for after the unlock (quota roll-ups) run, with no lock held."""

    def __init__(self, instances: Instances, instance_id: str) -> None:
        self.instances = instances
        self.instance_id = instance_id
        self.tl = instances.tlock(instance_id)
        self.cm: Any = None

    def __enter__(self) -> Instance:
        self.tl.acquire()
        held = self.instances.held()
        held[self.instance_id] = held.get(self.instance_id, 0) + 1
        try:
            self.cm = self.instances.store.lock(self.instance_id)
            self.cm.__enter__()
            return self.instances.load(self.instance_id)
        except BaseException:
            if self.cm is not None:
                self.cm.__exit__(None, None, None)
            held[self.instance_id] -= 1
            self.tl.release()
            raise

    def __exit__(self, *exc: object) -> None:
        stops: list[tuple[str, str, str]] = []
        later: list[Callable[[], None]] = []
        held = self.instances.held()
        held[self.instance_id] -= 1
        outermost = held[self.instance_id] == 0
        rt = self.instances.cache.get(self.instance_id)
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
                self.instances.stop_instance(child, status, error)
        for fn in later:
            fn()
