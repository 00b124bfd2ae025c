"""W0104 never-runs: a step or group whose `when` is the constant `false`."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, warning
from chatflow.dsl import ast


def _always_false(e: ast.Expr) -> bool:
    if isinstance(e, ast.Literal):
        return e.value is False
    return isinstance(e, ast.Unary) and e.op == "not" and isinstance(e.operand, ast.Literal) \
        and e.operand.value is True


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for item in ctx.items:
        if isinstance(item, ast.Step | ast.Group) and item.when is not None \
                and _always_false(item.when):
            kind = "step" if isinstance(item, ast.Step) else item.kind
            yield warning("W0104", f"{kind} `{item.name.name}` can never run: its `when` is "
                          "always false", item.when.span, "remove it, or fix the condition")


RULE = Rule("W0104", "never-runs", "A step or group whose `when` is always false.",
            Severity.WARNING, check)
