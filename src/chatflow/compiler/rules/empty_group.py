"""W0108 empty-group: a phase, parallel or repeat with no steps in it."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, warning
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for g in ctx.groups():
        if not any(isinstance(i, ast.Step | ast.Group) for i in g.items):
            yield warning("W0108", f"{g.kind} `{g.name.name}` has no steps", g.name.span,
                          "add steps to it or remove it")


RULE = Rule("W0108", "empty-group", "A phase, parallel or repeat that contains no steps.",
            Severity.WARNING, check)
