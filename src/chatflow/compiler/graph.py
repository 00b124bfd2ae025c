"""The per-flow dependency graph: implicit sequencing, groups, `after`
resolution, cycle detection and the "runs after" relation.

Sequencing (docs/language.md §4): in a flow body, phase or repeat body, a step or
group without `after` depends on the step or group written just before it;
the first item of a body and every member of a `parallel` have no implicit
dependency; `after` replaces the implicit one.

Timing is modelled with two events per node, `start(X)` and `finish(X)`:

    finish(d)      -> start(X)     for each d in deps(X)
    start(parent)  -> start(X)     a member starts only inside its running group
    start(X)       -> finish(X)
    finish(m)      -> finish(G)    a group finishes when all its members have

`X` runs after `Y` exactly when `finish(Y)` reaches `start(X)`; a cycle in
this event graph is a deadlock, reported as a cycle in `after` (E0404).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from chatflow.compiler.spelling import did_you_mean
from chatflow.diagnostics import Diagnostic, Related, Span, error, warning
from chatflow.dsl import ast


@dataclass
class FlowGraph:
    order: list[str]                    # step and group names, source pre-order
    deps: dict[str, tuple[str, ...]]    # direct deps after implicit sequencing
    parent: dict[str, str | None]
    members: dict[str, tuple[str, ...]]
    kinds: dict[str, str] = field(default_factory=dict)   # "step"|"phase"|"parallel"|"repeat"
    nodes: dict[str, ast.Step | ast.Group] = field(default_factory=dict)
    has_cycle: bool = False
    broken: set[str] = field(default_factory=set)   # nodes with a bad name in `after`
    # event graph: start(i) = 2*i, finish(i) = 2*i + 1, i = index in `order`
    _index: dict[str, int] = field(default_factory=dict, repr=False)
    _preds: list[tuple[int, ...]] = field(default_factory=list, repr=False)
    _topo: list[int] = field(default_factory=list, repr=False)
    _pos: list[int] = field(default_factory=list, repr=False)
    _memo: dict[int, dict[int, bool]] = field(default_factory=dict, repr=False)

    def runs_after(self, a: str, b: str) -> bool:
        """True when `a` can only start after `b` has finished (directly,
        transitively, through the groups it is in, or because `b` is inside
        a group `a` waits for)."""
        if a not in self._index or b not in self._index:
            return False
        if b in self.deps.get(a, ()):
            return True
        return self._reaches(2 * self._index[b] + 1, 2 * self._index[a])

    def ancestors(self, name: str) -> list[str]:
        """Enclosing groups, innermost first."""
        out: list[str] = []
        p = self.parent.get(name)
        while p is not None:
            out.append(p)
            p = self.parent.get(p)
        return out

    def is_inside(self, name: str, group: str) -> bool:
        """True when `name` is a (direct or nested) member of `group`."""
        return group in self.ancestors(name)

    def topological_order(self) -> list[str]:
        """Names in an order where every node comes after its dependencies
        (and groups before their members); source order breaks ties."""
        seen: set[str] = set()
        out: list[str] = []
        for ev in self._topo:
            name = self.order[ev // 2]
            if name not in seen:
                seen.add(name)
                out.append(name)
        return out

    # ------------------------------------------------------------------ internals

    def _reaches(self, target: int, source: int) -> bool:
        """Is `target` an event-graph ancestor of `source`?  Memoised per
        target and pruned by topological position, so a long chain costs
        linear time overall rather than per query."""
        preds = self._preds
        if self.has_cycle:  # error path: plain search, no memo, no pruning
            seen = {source}
            todo = [source]
            while todo:
                node = todo.pop()
                if node == target:
                    return True
                for p in preds[node]:
                    if p not in seen:
                        seen.add(p)
                        todo.append(p)
            return False
        pos = self._pos
        limit = pos[target]
        memo = self._memo.setdefault(target, {target: True})
        expanded: set[int] = set()
        stack = [source]
        while stack:
            node = stack[-1]
            if node in memo:
                stack.pop()
                continue
            live = [p for p in preds[node] if pos[p] >= limit]
            if node not in expanded:
                expanded.add(node)
                todo = [p for p in live if p not in memo]
                if todo and not any(memo.get(p) for p in live):
                    stack.extend(todo)
                    continue
            memo[node] = any(memo.get(p, False) for p in live)
            stack.pop()
        return memo[source]


def build_graph(flow: ast.Flow) -> tuple[FlowGraph, list[Diagnostic]]:
    """The graph of one flow, plus E0203 (bad name in `after`) and E0404
    (cycle) diagnostics. Duplicate names keep their first definition."""
    diags: list[Diagnostic] = []
    g = FlowGraph(order=[], deps={}, parent={}, members={})
    after_refs: dict[str, dict[str, Span]] = {}
    pending: list[tuple[ast.Step | ast.Group, str | None, str | None]] = []

    def walk(items: tuple[ast.Item, ...], parent: str | None, sequential: bool) -> None:
        prev: str | None = None
        member_names: list[str] = []
        for item in items:
            if not isinstance(item, ast.Step | ast.Group):
                continue
            name = item.name.name
            if name in g.nodes:
                continue  # duplicate: reported by the symbol table
            g.nodes[name] = item
            g.order.append(name)
            g.parent[name] = parent
            g.kinds[name] = "step" if isinstance(item, ast.Step) else item.kind
            member_names.append(name)
            pending.append((item, prev if sequential else None, parent))
            if isinstance(item, ast.Group):
                g.members[name] = ()
                walk(item.items, name, item.kind != "parallel")
            prev = name
        if parent is not None:
            g.members[parent] = tuple(member_names)

    walk(flow.items, None, True)

    values = {p.name.name: "param" for p in flow.params}
    for item in ast.iter_items(flow.items):
        if isinstance(item, ast.Var):
            values.setdefault(item.name.name, "var")

    for item, implicit, _parent in pending:
        name = item.name.name
        if item.after is None:
            g.deps[name] = (implicit,) if implicit is not None else ()
            continue
        deps: list[str] = []
        refs: dict[str, Span] = {}
        for ident in item.after:
            dep = ident.name
            if dep in g.nodes:
                if dep not in refs:
                    deps.append(dep)
                    refs[dep] = ident.span
                else:
                    diags.append(warning(
                        "W0109", f"`{dep}` is named twice in `after`", ident.span,
                        "remove the repeated name",
                        (Related(refs[dep], "first named here"),)))
            elif dep in values:
                diags.append(error(
                    "E0203", f"`{dep}` is a {values[dep]}, not a step or group, in `after`",
                    ident.span, "`after` names steps and groups of this flow"))
            else:
                diags.append(error("E0203", f"unknown step `{dep}` in `after`", ident.span,
                                   did_you_mean(dep, g.nodes)))
            if dep not in g.nodes:
                g.broken.add(name)
        g.deps[name] = tuple(deps)
        after_refs[name] = refs

    _build_events(g)
    if g.has_cycle:
        diags.extend(_cycle_diagnostics(g, after_refs))
    return g, diags


def _build_events(g: FlowGraph) -> None:
    index = {name: i for i, name in enumerate(g.order)}
    g._index = index
    preds: list[list[int]] = [[] for _ in range(2 * len(g.order))]
    for name, i in index.items():
        start, finish = 2 * i, 2 * i + 1
        preds[start].extend(2 * index[d] + 1 for d in g.deps[name])
        parent = g.parent[name]
        if parent is not None:
            preds[start].append(2 * index[parent])
        preds[finish].append(start)
        preds[finish].extend(2 * index[m] + 1 for m in g.members.get(name, ()))
    g._preds = [tuple(p) for p in preds]
    # Kahn's algorithm (pure Python: networkx is only imported to explain a cycle)
    succs: list[list[int]] = [[] for _ in preds]
    indeg = [len(p) for p in preds]
    for node, ps in enumerate(preds):
        for q in ps:
            succs[q].append(node)
    ready = [n for n in range(len(preds)) if indeg[n] == 0]
    ready.reverse()
    topo: list[int] = []
    while ready:
        n = ready.pop()
        topo.append(n)
        for s in reversed(succs[n]):
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append(s)
    g.has_cycle = len(topo) != len(preds)
    if g.has_cycle:
        done = set(topo)
        topo.extend(n for n in range(len(preds)) if n not in done)
    g._topo = topo
    pos = [0] * len(topo)
    for i, ev in enumerate(topo):
        pos[ev] = i
    g._pos = pos


def _cycle_diagnostics(g: FlowGraph, after_refs: dict[str, dict[str, Span]]) -> list[Diagnostic]:
    """One E0404 per group of mutually waiting nodes, found from the earliest
    node in source order, naming the cycle (`a → b → a`)."""
    import networkx as nx  # only on the error path: keeps lint's cold start fast

    eg = nx.DiGraph()
    eg.add_nodes_from(range(len(g._preds)))
    for node, ps in enumerate(g._preds):
        for p in ps:
            eg.add_edge(node, p)  # "waits for" direction
    diags: list[Diagnostic] = []
    components = [c for c in nx.strongly_connected_components(eg) if len(c) > 1]
    components.sort(key=min)
    for comp in components:
        first = min(comp)
        first = first - (first % 2)  # the start event of the earliest node
        if first not in comp:
            first += 1
        sub = eg.subgraph(comp)
        # shortest way back to `first`: BFS from its successors
        best: list[int] | None = None
        for succ in sorted(sub.successors(first)):
            path = nx.shortest_path(sub, succ, first)
            if best is None or len(path) < len(best):
                best = path
        assert best is not None
        events = [first, *best]
        names: list[str] = []
        for ev in events:
            n = g.order[ev // 2]
            if not names or names[-1] != n:
                names.append(n)
        if len(names) == 1:
            names.append(names[0])
        head = names[0]
        # point at the earliest written `after` that closes the loop
        refs = [after_refs[a][b] for a, b in itertools.pairwise(names)
                if b in after_refs.get(a, {})]
        span = min(refs, key=lambda s: (s.line, s.column)) if refs else g.nodes[head].name.span
        kind = "step" if g.kinds[head] == "step" else "group"
        diags.append(error(
            "E0404", f"cycle in `after`: {' → '.join(names)}", span,
            f"{kind} `{head}` waits for itself; remove one of these dependencies"))
    return diags
