"""E0401 unbound-output: a declared output with no `output NAME = ...` item."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    bound = {i.name.name for i in ctx.items if isinstance(i, ast.OutputItem)}
    for o in ctx.flow.outputs:
        if o.name.name not in bound:
            yield error("E0401", f"output `{o.name.name}` is never bound", o.name.span,
                        f"add `output {o.name.name} = EXPR` to the flow")


RULE = Rule("E0401", "unbound-output",
            "A declared output that no `output NAME = EXPR` item binds.", Severity.ERROR, check)
