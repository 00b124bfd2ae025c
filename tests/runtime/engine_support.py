"""Test support for the engine tests: hand-built IR (the engine runs it on a
real store; the in-memory store that was here did not keep the `StateStore`
contract that `chatflow.testing.store_conformance` checks, so it went)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chatflow.compiler.shell_holes import shell_action


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
