"""E0208 unknown-action: a step whose action is not one of the seven actions."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.spelling import did_you_mean
from chatflow.compiler.symbols import ACTION_FIELDS
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        a = step.action
        if isinstance(a, ast.UnknownAction):
            n = a.name.name
            yield error("E0208", f"unknown action `{n}`", a.name.span,
                        did_you_mean(n, ACTION_FIELDS)
                        or "actions: " + ", ".join(ACTION_FIELDS))


RULE = Rule("E0208", "unknown-action",
            "A step action other than shell, python, agent, approve, call, set, fail.",
            Severity.ERROR, check)
