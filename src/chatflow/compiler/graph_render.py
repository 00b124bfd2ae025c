"""Render one flow of an IR document as a Mermaid flowchart or a Graphviz DOT graph.

Steps are boxes labelled with their action; groups (`phase`, `parallel`,
`repeat`) are subgraphs/clusters labelled with their kind, `max`, `until` and
`when`; an edge `A → B` means B waits for A. Steps that may be skipped (a
`when` on them) are dashed. Expressions are shown in source syntax.
"""

from __future__ import annotations

from typing import Any

from chatflow.compiler.ir import expr_text
from chatflow.diagnostics import UsageError

FORMATS = ("mermaid", "dot")
_LABEL_MAX = 60


def _clip(text: str) -> str:
    return text if len(text) <= _LABEL_MAX else text[: _LABEL_MAX - 1] + "…"


def step_label(node: dict[str, Any]) -> list[str]:
    """The lines of a step's label: its id, its action, its `when`."""
    a = node["action"]
    kind = a["type"]
    if kind == "shell":
        what = "shell " + str(a["command"])
    elif kind == "python":
        what = f"python {a['target']}"
    elif kind == "agent":
        what = f"agent {a['agent']}"
    elif kind in ("approve", "fail"):
        what = f"{kind} " + expr_text(a["message"])
    elif kind == "call":
        what = f"call {a['flow']}"
    elif kind == "set":
        what = f"set {a['var']} = {expr_text(a['value'])}"
    elif "target" in a:  # a plugin kind's action
        what = f"{kind} " + expr_text(a["target"])
    else:
        what = kind
    lines = [node["id"], _clip(what)]
    if node.get("when") is not None:
        lines.append(_clip("when " + expr_text(node["when"])))
    return lines


def group_label(node: dict[str, Any]) -> str:
    """`parallel checks · max 2`, `repeat loop · max 3 · until test.ok`."""
    parts = [f"{node['kind']} {node['id']}"]
    if node.get("max") is not None:
        parts.append(f"max {node['max']}")
    if "until" in node:
        parts.append(_clip("until " + expr_text(node["until"])))
    if node.get("when") is not None:
        parts.append(_clip("when " + expr_text(node["when"])))
    return " · ".join(parts)


def _flow_of(ir: dict[str, Any], flow: str | None) -> tuple[str, dict[str, Any]]:
    key = ir["entry"] if flow is None else flow
    if key not in ir["flows"]:
        known = ", ".join(sorted(ir["flows"]))
        raise UsageError(f"flow `{key}` is not in the IR (flows: {known})")
    return key, ir["flows"][key]


def _children(nodes: list[dict[str, Any]]) -> dict[str | None, list[dict[str, Any]]]:
    out: dict[str | None, list[dict[str, Any]]] = {}
    for n in nodes:
        out.setdefault(n["parent"], []).append(n)
    return out


# ---------------------------------------------------------------------- mermaid


def _mm_text(text: str) -> str:
    return (text.replace("#", "#35;").replace('"', "#quot;")
            .replace("<", "#lt;").replace(">", "#gt;"))


def _mm_id(node_id: str) -> str:
    # A prefix keeps ids like `end` or `graph` from being read as keywords.
    return f"n_{node_id}"


def to_mermaid(ir: dict[str, Any], flow: str | None = None) -> str:
    key, fl = _flow_of(ir, flow)
    nodes: list[dict[str, Any]] = fl["nodes"]
    children = _children(nodes)
    lines = ["flowchart TD", f"  %% flow {key}"]

    def emit(parent: str | None, depth: int) -> None:
        pad = "  " * depth
        for n in children.get(parent, []):
            if n["kind"] == "step":
                label = "<br/>".join(_mm_text(s) for s in step_label(n))
                lines.append(f'{pad}{_mm_id(n["id"])}["{label}"]')
            else:
                lines.append(f'{pad}subgraph {_mm_id(n["id"])}["{_mm_text(group_label(n))}"]')
                lines.append(f"{pad}  direction TB")
                emit(n["id"], depth + 1)
                lines.append(f"{pad}end")

    emit(None, 1)
    for n in nodes:
        lines.extend(f"  {_mm_id(d)} --> {_mm_id(n['id'])}" for d in n["deps"])
    guarded = [_mm_id(n["id"]) for n in nodes if n["kind"] == "step" and n.get("when")]
    if guarded:
        lines.append("  classDef guarded stroke-dasharray: 5 5")
        lines.append(f"  class {','.join(guarded)} guarded")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- dot


def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(ir: dict[str, Any], flow: str | None = None) -> str:
    key, fl = _flow_of(ir, flow)
    nodes: list[dict[str, Any]] = fl["nodes"]
    by_id = {n["id"]: n for n in nodes}
    children = _children(nodes)
    lines = [
        f"digraph {_dot_str(key)} {{",
        "  compound=true;",
        "  rankdir=TB;",
        '  node [shape=box, style=rounded, fontname="Helvetica"];',
        '  graph [fontname="Helvetica"];',
    ]

    def anchor(node_id: str) -> str:
        """The DOT node an edge to/from `node_id` attaches to: the node itself,
        or for a group its first step (the edge is clipped at the cluster)."""
        n = by_id[node_id]
        while n["kind"] != "step":
            kids = children.get(n["id"], [])
            if not kids:
                return f"{n['id']}:empty"
            n = kids[0]
        return str(n["id"])

    def emit(parent: str | None, depth: int) -> None:
        pad = "  " * depth
        for n in children.get(parent, []):
            if n["kind"] == "step":
                style = ', style="rounded,dashed"' if n.get("when") is not None else ""
                lines.append(f'{pad}{_dot_str(n["id"])} '
                             f'[label={_dot_str(chr(10).join(step_label(n)))}{style}];')
                continue
            lines.append(f"{pad}subgraph {_dot_str('cluster_' + n['id'])} {{")
            lines.append(f"{pad}  label={_dot_str(group_label(n))};")
            lines.append(f"{pad}  style={'dashed' if n['kind'] == 'parallel' else 'solid'};")
            if n["kind"] == "repeat":
                lines.append(f"{pad}  color=blue;")
            if not children.get(n["id"]):
                lines.append(f'{pad}  {_dot_str(n["id"] + ":empty")} '
                             f'[shape=point, style=invis];')
            emit(n["id"], depth + 1)
            lines.append(f"{pad}}}")

    emit(None, 1)
    for n in nodes:
        for d in n["deps"]:
            attrs = []
            if by_id[d]["kind"] != "step":
                attrs.append(f"ltail={_dot_str('cluster_' + d)}")
            if n["kind"] != "step":
                attrs.append(f"lhead={_dot_str('cluster_' + n['id'])}")
            suffix = f" [{', '.join(attrs)}]" if attrs else ""
            lines.append(f"  {_dot_str(anchor(d))} -> {_dot_str(anchor(n['id']))}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(ir: dict[str, Any], fmt: str, flow: str | None = None) -> str:
    """`fmt` is "mermaid" or "dot"."""
    if fmt == "mermaid":
        return to_mermaid(ir, flow)
    if fmt == "dot":
        return to_dot(ir, flow)
    raise UsageError(f"unknown graph format `{fmt}` (expected one of: {', '.join(FORMATS)})")
