"""W0111 risk-on-approve: `risk` on an `approve` step has no effect. An
`approve` step waits for a person whenever the automation level is below
100, and runs without one at 100, whatever its risk."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, warning
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        if not isinstance(step.action, ast.ApproveAction):
            continue
        for opt in step.options:
            if isinstance(opt, ast.Option) and opt.name.name == "risk":
                yield warning(
                    "W0111", f"`risk` has no effect on the `approve` step `{step.name.name}`",
                    opt.span, "remove it: an `approve` step always waits for a person below "
                    "automation 100, and never at 100")


RULE = Rule("W0111", "risk-on-approve",
            "`risk` on an `approve` step, which waits for a person below automation 100 "
            "whatever its risk: it has no effect.", Severity.WARNING, check)
