"""Read an IR document of version 1 as version 2 (docs/ir.md, "Versions").

Version 1 kept a `shell` command as a template whose values the runtime
quoted into the text; version 2 keeps a fixed text plus bindings. Instances
pinned to version-1 IR in a state store still resume: each shell template is
placed here with the compiler's own function (`shell_holes.shell_action`), so
an old flow runs exactly as a recompiled one would. A template that cannot be
placed (a value inside a here-document's delimiter, or one that would reach a
nested shell as code — a compile error today) becomes a shell action with an
`error`: the step fails with that message when it runs, the rest of the
instance is untouched. Anything malformed is left as it is, for the IR
validation to report.
"""

from __future__ import annotations

from typing import Any

from chatflow.compiler.shell_holes import PlacementError, problem_text, shell_action


def upgrade_ir(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` as IR version 2 (a new document; `doc` is not changed). A
    document of any other version is returned as it is."""
    if doc.get("ir_version") != 1:
        return doc
    if not isinstance(doc.get("flows"), dict):
        return {**doc, "ir_version": 2}
    flows: dict[str, Any] = {}
    for key, flow in doc["flows"].items():
        nodes = flow.get("nodes") if isinstance(flow, dict) else None
        if not isinstance(nodes, list):
            flows[key] = flow
            continue
        flows[key] = {**flow, "nodes": [_node(n) for n in nodes]}
    return {**doc, "ir_version": 2, "flows": flows}


def _node(node: Any) -> Any:
    action = node.get("action") if isinstance(node, dict) else None
    if not (isinstance(action, dict) and action.get("type") == "shell"):
        return node
    command = action.get("command")
    if not (isinstance(command, dict) and command.get("op") == "fmt"
            and isinstance(command.get("args"), list)
            and all(isinstance(a, dict) for a in command["args"])):
        return node
    try:
        upgraded = shell_action(command)
    except PlacementError as exc:
        reason = problem_text(exc.problems[0][1], None)
        upgraded = {"type": "shell", "command": "", "bindings": {},
                    "error": f"this step's command (compiled by an older ChatFlow) cannot run "
                             f"safely: {reason}; fix the command and start a new instance"}
    return {**node, "action": upgraded}
