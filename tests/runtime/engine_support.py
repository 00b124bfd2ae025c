"""Test support for the engine tests: hand-built IR and an in-memory store.

The in-memory store implements the `StateStore` contract without I/O so the
engine's semantics can be tested quickly; the conformance tests run the same
scenarios on the real backends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from chatflow.compiler.shell_holes import shell_action
from chatflow.runtime.store.base import InstanceNotFound, StateStore
from chatflow.runtime.store.records import (
    ArtifactInfo,
    Change,
    HistoryEvent,
    IRRef,
    NewEvent,
    Problem,
    RepairReport,
    StateRecord,
    StatusRecord,
    apply_delta,
    ir_sha256,
    next_status,
    utc_now,
)


def lit(v: Any) -> dict[str, Any]:
    return {"lit": v}


def fmt(*parts: Any) -> dict[str, Any]:
    return {"op": "fmt", "args": [p if isinstance(p, dict) else lit(p) for p in parts]}


def ref(step: str, field: str) -> dict[str, Any]:
    return {"step": step, "field": field}


def op(name: str, *args: Any) -> dict[str, Any]:
    return {"op": name, "args": list(args)}


SHELL_FIELDS = {"ok": "bool", "exit_code": "int", "stdout": "str", "stderr": "str"}


def node(nid: str, action: dict[str, Any] | None = None, *, deps: Sequence[str] = (),
         parent: str | None = None, when: Any = None, kind: str = "step",
         members: Sequence[str] = (), mx: int | None = None, until: Any = None,
         **options: Any) -> dict[str, Any]:
    n: dict[str, Any] = {"id": nid, "kind": kind, "parent": parent, "deps": list(deps),
                         "when": when, "optional": when is not None, "fields": {}}
    if kind == "step":
        n["action"] = action
        n["options"] = options
        if action and action["type"] == "shell":
            n["fields"] = dict(SHELL_FIELDS)
    else:
        n["members"] = list(members)
        n["fields"] = {"ok": "bool"}
        if kind in ("parallel", "repeat"):
            n["max"] = mx
        if kind == "repeat":
            n["until"] = until
            n["fields"]["iterations"] = "int"
    return n


def shell(cmd: Any) -> dict[str, Any]:
    """A shell action (IR version 2) from a command text or a `fmt` template."""
    return shell_action(cmd if isinstance(cmd, dict) else {"op": "fmt", "args": [lit(cmd)]})


def set_(var: str, value: Any) -> dict[str, Any]:
    return {"type": "set", "var": var, "value": value}


def approve(msg: str) -> dict[str, Any]:
    return {"type": "approve", "message": lit(msg)}


def fail(msg: str) -> dict[str, Any]:
    return {"type": "fail", "message": lit(msg)}


def chain(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give top-level nodes without explicit deps the implicit previous dep."""
    prev = None
    for n in nodes:
        if n["parent"] is None:
            if not n["deps"] and prev is not None and not n.pop("_first", False):
                n["deps"] = [prev]
            prev = n["id"]
    return nodes


def make_ir(nodes: list[dict[str, Any]], *, name: str = "main", params: Any = (),
            outputs: Any = (), vars: Any = (), settings: Mapping[str, Any] | None = None,
            extra_flows: Mapping[str, Any] | None = None) -> dict[str, Any]:
    flow = {"name": name, "params": list(params), "outputs": list(outputs),
            "settings": dict(settings or {}), "vars": list(vars), "nodes": nodes}
    flows = {name: flow, **(extra_flows or {})}
    return {"ir_version": 2, "entry": name, "flows": flows}


class MemStore(StateStore):
    """An in-memory `StateStore` (no durability; for engine unit tests)."""

    kind = "memory"

    def __init__(self, root: Path | None = None) -> None:
        self.url = "memory:"
        self.status: dict[str, StatusRecord] = {}
        self.state: dict[str, StateRecord] = {}
        self.events: dict[str, list[HistoryEvent]] = {}
        self.irs: dict[str, dict[str, Any]] = {}
        self.root = root
        self._locks: dict[str, threading.RLock] = {}
        self._meta = threading.Lock()
        self.commits = 0

    def setup(self) -> None:
        pass

    def create_instance(self, status: StatusRecord, state: StateRecord,
                        events: Sequence[NewEvent] = ()) -> StatusRecord:
        now = utc_now()
        iid = status.instance_id
        evs = [HistoryEvent(i + 1, e.type, e.ts or now, e.step, dict(e.data))
               for i, e in enumerate(events)]
        st = replace(status, rev=1, seq=len(evs), created_at=now, updated_at=now)
        self.status[iid] = st
        self.state[iid] = replace(state, rev=1)
        self.events[iid] = evs
        return st

    def commit(self, instance_id: str, change: Change,
               expected_rev: int | None = None) -> StatusRecord:
        old = self.load_status(instance_id)
        assert expected_rev is None or expected_rev == old.rev
        evs = self.events[instance_id]
        for e in change.events:
            evs.append(HistoryEvent(len(evs) + 1, e.type, e.ts or utc_now(), e.step,
                                    dict(e.data)))
        st = next_status(old, change.status, len(evs), utc_now())
        self.status[instance_id] = st
        old_state = self.state[instance_id]
        # update the step map in place: O(change), like the real backends
        steps = dict(old_state.steps) if not isinstance(old_state.steps, dict) \
            else old_state.steps
        for rec in change.steps:
            steps[rec.name] = rec
        delta = change.delta_json()
        delta.pop("steps", None)
        self.state[instance_id] = apply_delta(old_state, delta, st.rev, steps=steps)
        self.commits += 1
        return st

    def load_status(self, instance_id: str) -> StatusRecord:
        if instance_id not in self.status:
            raise InstanceNotFound(instance_id, "memory")
        return self.status[instance_id]

    def load_state(self, instance_id: str) -> StateRecord:
        self.load_status(instance_id)
        return self.state[instance_id]

    def exists(self, instance_id: str) -> bool:
        return instance_id in self.status

    def list_instances(self, feature_id: str | None = None) -> list[StatusRecord]:
        return [s for s in self.status.values() if feature_id in (None, s.feature_id)]

    def iter_history(self, instance_id: str, from_seq: int = 1) -> Iterator[HistoryEvent]:
        self.load_status(instance_id)
        return iter([e for e in self.events[instance_id] if e.seq >= from_seq])

    def lock(self, instance_id: str,
             timeout: float | None = None) -> AbstractContextManager[None]:
        with self._meta:
            lk = self._locks.setdefault(instance_id, threading.RLock())

        @contextmanager
        def held() -> Iterator[None]:
            with lk:
                yield

        return held()

    def pin_ir(self, ir: Mapping[str, Any], flow: str, version: str) -> IRRef:
        sha = ir_sha256(ir)
        self.irs[sha] = dict(ir)
        return IRRef(flow, version, sha)

    def load_ir(self, ref: IRRef) -> dict[str, Any]:
        return self.irs[ref.sha256]

    def artifact_dir(self, instance_id: str, step: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / instance_id / step

    def put_artifact(self, instance_id: str, step: str, name: str,
                     data: bytes) -> ArtifactInfo:
        raise NotImplementedError

    def get_artifact(self, instance_id: str, step: str, name: str) -> bytes:
        raise NotImplementedError

    def list_artifacts(self, instance_id: str, step: str | None = None) -> list[ArtifactInfo]:
        return []

    def check(self, instance_id: str) -> list[Problem]:
        return []

    def repair(self, instance_id: str) -> RepairReport:
        return RepairReport(instance_id)
