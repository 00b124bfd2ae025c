"""E0403 unknown-output: `output NAME = ...` for a name the flow does not declare."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.spelling import did_you_mean
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for item in ctx.items:
        if isinstance(item, ast.OutputItem) and item.name.name not in ctx.symbols.outputs:
            n = item.name.name
            yield error("E0403", f"`{n}` is not a declared output of `{ctx.flow.name.name}`",
                        item.name.span,
                        did_you_mean(n, ctx.symbols.outputs)
                        or f"declare it in the flow's signature: `-> ({n}: TYPE)`")


RULE = Rule("E0403", "unknown-output",
            "An `output` item for a name not declared in the flow's `-> (...)`.",
            Severity.ERROR, check)
