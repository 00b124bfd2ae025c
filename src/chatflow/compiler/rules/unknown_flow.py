"""E0206 unknown-flow: `call` of a flow that is neither in this file nor imported."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.spelling import did_you_mean
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    unit = ctx.unit
    for step in ctx.steps():
        a = step.action
        if not isinstance(a, ast.CallAction):
            continue
        name = a.flow.name
        if name in unit.callables or name in unit.unresolved:
            continue
        hint = did_you_mean(name, unit.callables) or (
            f"define `flow {name}` in this file or import it, like "
            f"`import {name} from \"std\"`")
        yield error("E0206", f"unknown flow `{name}` in `call`", a.flow.span, hint)


RULE = Rule("E0206", "unknown-flow",
            "`call` of a flow that is neither defined in the file nor imported.",
            Severity.ERROR, check)
