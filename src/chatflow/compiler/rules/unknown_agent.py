"""W0115 unknown-agent: a step names an agent that the configuration in
effect does not define (checked only when the caller gives the agents it
knows: `chatflow lint` does, from `./.chatflow/config.yaml` and the installed
plugins; see `compiler/agent_names.py`). A call to a standard-library flow
that runs such an agent is reported at the call."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.agent_names import CODE, agent_warning
from chatflow.compiler.loader import Program
from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    if ctx.agents is None or not ctx.unit.is_root:
        return
    catalog = None
    for step in ctx.steps():
        action = step.action
        if isinstance(action, ast.AgentAction) and isinstance(action.agent.value, str):
            catalog = catalog or ctx.agents()
            d = agent_warning(catalog, action.agent.value, action.agent.span)
            if d is not None:
                yield d
        elif isinstance(action, ast.CallAction):
            key = ctx.unit.callables.get(action.flow.name)
            if key is None or not key.startswith("std:"):
                continue  # the user's own flows are linted in their own files
            via = f"`{action.flow.name}` (from std)"
            for name in sorted(set(_agents_of(ctx.program, key, set()))):
                catalog = catalog or ctx.agents()
                d = agent_warning(catalog, name, action.flow.span, via)
                if d is not None:
                    yield d


def _agents_of(program: Program, key: str, seen: set[str]) -> Iterator[str]:
    """Agents named by flow `key` and the flows it calls."""
    unit = program.units.get(key)
    if unit is None or key in seen:
        return
    seen.add(key)
    for item in ast.iter_items(unit.flow.items):
        if not isinstance(item, ast.Step):
            continue
        action = item.action
        if isinstance(action, ast.AgentAction) and isinstance(action.agent.value, str):
            yield action.agent.value
        elif isinstance(action, ast.CallAction):
            callee = unit.callables.get(action.flow.name)
            if callee is not None:
                yield from _agents_of(program, callee, seen)


RULE = Rule(CODE, "unknown-agent",
            "A step names an agent that the configuration in effect does not define.",
            Severity.WARNING, check)
