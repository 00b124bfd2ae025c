"""Ready-set bookkeeping over one flow's IR DAG (docs/language.md §8, docs/ir.md).

`FlowGraph` is the static shape of a flow (deps, dependents, groups) built once
per IR. `Schedule` tracks node statuses and tells the engine which nodes are
*eligible* (pending, every dependency finished, parent group running) in source
order. It never evaluates expressions: the engine decides what an eligible
node becomes (cancelled / skipped / running group / runnable step) and reports
it back with `finish()` / `start_group()`.

Everything is incremental: finishing a node touches only its dependents and
its parent group (in-degree counters), so a step's bookkeeping cost does not
grow with the number of steps already run.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chatflow.runtime.records import (
    CANCELLED,
    FAILED,
    PENDING,
    READY,
    RUNNING,
    STEP_FINISHED,
)

GROUP_KINDS = frozenset({"phase", "parallel", "repeat"})


@dataclass
class FlowGraph:
    """Static structure of one IR flow."""

    order: list[str]
    index: dict[str, int]
    nodes: dict[str, dict[str, Any]]
    deps: dict[str, tuple[str, ...]]
    dependents: dict[str, list[str]]
    parent: dict[str, str | None]
    members: dict[str, tuple[str, ...]]
    continue_on_error: frozenset[str]
    top_level: tuple[str, ...]
    steps: tuple[str, ...] = field(default=())
    step_set: frozenset[str] = field(default=frozenset())

    def __post_init__(self) -> None:
        self.step_set = frozenset(self.steps)

    @classmethod
    def from_ir(cls, flow: Mapping[str, Any]) -> FlowGraph:
        nodes_list: list[dict[str, Any]] = list(flow.get("nodes", []))
        order = [str(n["id"]) for n in nodes_list]
        nodes = {str(n["id"]): n for n in nodes_list}
        index = {nid: i for i, nid in enumerate(order)}
        deps = {nid: tuple(str(d) for d in nodes[nid].get("deps", [])) for nid in order}
        dependents: dict[str, list[str]] = {nid: [] for nid in order}
        for nid in order:
            for d in deps[nid]:
                if d in dependents:
                    dependents[d].append(nid)
        parent = {nid: nodes[nid].get("parent") for nid in order}
        members = {
            nid: tuple(str(m) for m in nodes[nid].get("members", []))
            for nid in order if nodes[nid].get("kind") in GROUP_KINDS
        }
        coe = frozenset(
            nid for nid in order
            if nodes[nid].get("kind") == "step"
            and (nodes[nid].get("options") or {}).get("continue_on_error")
        )
        top = tuple(nid for nid in order if parent[nid] is None)
        steps = tuple(nid for nid in order if nodes[nid].get("kind") == "step")
        return cls(order, index, nodes, deps, dependents, parent, members, coe, top, steps)

    def kind(self, nid: str) -> str:
        return str(self.nodes[nid].get("kind", "step"))

    def is_group(self, nid: str) -> bool:
        return nid in self.members

    def subtree(self, group: str) -> list[str]:
        """Every node inside `group` (nested groups included), pre-order."""
        out: list[str] = []
        stack = list(reversed(self.members.get(group, ())))
        while stack:
            nid = stack.pop()
            out.append(nid)
            stack.extend(reversed(self.members.get(nid, ())))
        return out


class Schedule:
    """Mutable ready-set state for one instance of a flow."""

    def __init__(self, graph: FlowGraph, status: Mapping[str, str]) -> None:
        self.graph = graph
        self.status: dict[str, str] = {nid: status.get(nid, PENDING) for nid in graph.order}
        self._remaining_deps: dict[str, int] = {}
        self._remaining_members: dict[str, int] = {}
        self._heap: list[int] = []
        self._in_heap: set[str] = set()
        self.groups_done: list[str] = []
        self.top_remaining = 0
        self.steps_finished = 0
        self._rebuild()

    # ------------------------------------------------------------------ build

    def _rebuild(self) -> None:
        g = self.graph
        st = self.status
        for nid in g.order:
            self._remaining_deps[nid] = sum(
                1 for d in g.deps[nid] if d in st and st[d] not in STEP_FINISHED
            )
        for grp, mem in g.members.items():
            self._remaining_members[grp] = sum(1 for m in mem if st[m] not in STEP_FINISHED)
        self.top_remaining = sum(1 for n in g.top_level if st[n] not in STEP_FINISHED)
        self.steps_finished = sum(1 for n in g.steps if st[n] in STEP_FINISHED)
        for nid in g.order:
            self._maybe_eligible(nid)
        for grp in g.members:
            if st[grp] == RUNNING and self._remaining_members[grp] == 0:
                self.groups_done.append(grp)

    def _parent_running(self, nid: str) -> bool:
        p = self.graph.parent[nid]
        return p is None or self.status.get(p) == RUNNING

    def _maybe_eligible(self, nid: str) -> None:
        if (
            self.status[nid] in (PENDING, READY)
            and self._remaining_deps[nid] == 0
            and self._parent_running(nid)
            and nid not in self._in_heap
        ):
            self._in_heap.add(nid)
            heapq.heappush(self._heap, self.graph.index[nid])

    # ------------------------------------------------------------------ queries

    def next_eligible(self) -> str | None:
        """The eligible node earliest in source order (not removed)."""
        while self._heap:
            nid = self.graph.order[self._heap[0]]
            if nid in self._in_heap and self.status[nid] in (PENDING, READY):
                return nid
            heapq.heappop(self._heap)
            self._in_heap.discard(nid)
        return None

    def eligible(self) -> list[str]:
        """All eligible nodes in source order (for plans and parallel dispatch)."""
        return sorted(
            (n for n in self._in_heap if self.status[n] in (PENDING, READY)),
            key=self.graph.index.__getitem__,
        )

    def blocking_dep(self, nid: str) -> str | None:
        """A dependency whose outcome cancels `nid`: a *step* that failed
        without continue_on_error, or any node that was cancelled. A group
        that finished with a failed member does not block: groups absorb
        their members' failures (its dependents read `GROUP.ok`)."""
        g = self.graph
        for d in g.deps[nid]:
            s = self.status.get(d)
            if s == CANCELLED:
                return d
            if s == FAILED and d in g.step_set and d not in g.continue_on_error:
                return d
        return None

    def member_failed(self, group: str) -> bool:
        """True when a member failed (not continue_on_error) or was cancelled."""
        for m in self.graph.members.get(group, ()):
            s = self.status[m]
            if s == FAILED and m not in self.graph.continue_on_error:
                return True
            if s == CANCELLED:
                return True
        return False

    @property
    def done(self) -> bool:
        return self.top_remaining == 0

    def progress(self) -> float:
        n = len(self.graph.steps)
        return 1.0 if n == 0 else round(self.steps_finished / n, 4)

    def in_status(self, *statuses: str) -> list[str]:
        return [n for n in self.graph.order if self.status[n] in statuses]

    # ------------------------------------------------------------------ transitions

    def set_status(self, nid: str, status: str) -> None:
        """A non-finishing change (ready, waiting_approval, running)."""
        assert status not in STEP_FINISHED, status
        self.status[nid] = status
        if status not in (PENDING, READY):
            self._in_heap.discard(nid)

    def requeue(self, nid: str) -> None:
        """Make a pending node eligible again (after an approval or a crash)."""
        self.status[nid] = PENDING
        self._maybe_eligible(nid)

    def start_group(self, group: str) -> None:
        self.set_status(group, RUNNING)
        if self._remaining_members[group] == 0:
            self.groups_done.append(group)
            return
        for m in self.graph.members[group]:
            self._maybe_eligible(m)

    def finish(self, nid: str, status: str) -> list[str]:
        """Mark `nid` finished. Returns the nodes whose status changed as a
        consequence (a skipped/cancelled group's members, which take the
        group's status)."""
        assert status in STEP_FINISHED, status
        changed: list[str] = []
        self._finish_one(nid, status)
        if self.graph.is_group(nid):
            for m in self.graph.subtree(nid):
                if self.status[m] not in STEP_FINISHED:
                    self._finish_one(m, status)
                    changed.append(m)
        return changed

    def finish_single(self, nid: str, status: str) -> None:
        """Mark only `nid` finished (its members, if a group, are the
        caller's business: it finishes them one by one)."""
        assert status in STEP_FINISHED, status
        self._finish_one(nid, status)

    def _finish_one(self, nid: str, status: str) -> None:
        g = self.graph
        was_finished = self.status[nid] in STEP_FINISHED
        self.status[nid] = status
        self._in_heap.discard(nid)
        if was_finished:
            return
        if nid in g.step_set:
            self.steps_finished += 1
        p = g.parent[nid]
        if p is None:
            self.top_remaining -= 1
        else:
            self._remaining_members[p] -= 1
            if self._remaining_members[p] == 0 and self.status[p] == RUNNING:
                self.groups_done.append(p)
        for dep in g.dependents[nid]:
            self._remaining_deps[dep] -= 1
            if self._remaining_deps[dep] == 0:
                self._maybe_eligible(dep)

    def reset_iteration(self, group: str) -> list[str]:
        """Put a repeat's body back to pending for its next iteration.
        Returns the reset node ids."""
        g = self.graph
        body = g.subtree(group)
        body_set = set(body)
        for m in body:
            if self.status[m] in STEP_FINISHED:
                if m in g.step_set:
                    self.steps_finished -= 1
                for dep in g.dependents[m]:
                    if dep not in body_set and self.status[dep] in (PENDING, READY):
                        if self._remaining_deps[dep] == 0:
                            self._in_heap.discard(dep)
                        self._remaining_deps[dep] += 1
            self.status[m] = PENDING
            self._in_heap.discard(m)
        for m in body:
            self._remaining_deps[m] = sum(
                1 for d in g.deps[m] if self.status.get(d, PENDING) not in STEP_FINISHED
            )
        for grp in [group, *(m for m in body if g.is_group(m))]:
            self._remaining_members[grp] = len(g.members[grp])
        for m in g.members[group]:
            self._maybe_eligible(m)
        return body

    def pop_group_done(self) -> str | None:
        while self.groups_done:
            grp = self.groups_done.pop(0)
            if self.status[grp] == RUNNING and self._remaining_members[grp] == 0:
                return grp
        return None


def source_order(graph: FlowGraph, ids: Iterable[str]) -> list[str]:
    return sorted(ids, key=graph.index.__getitem__)
