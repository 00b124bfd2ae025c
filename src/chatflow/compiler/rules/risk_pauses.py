"""W0106 risk-pauses: a step `risk` at or above the flow's `automation`, so the
step pauses for approval at the default automation level. Not for `approve`
steps: they wait for a person below 100 whatever their risk (W0111)."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.typecheck import constant_value
from chatflow.diagnostics import Diagnostic, Severity, warning
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    level = 100
    for item in ctx.flow.items:
        if isinstance(item, ast.Setting) and item.name.name == "automation":
            v = constant_value(item.value)
            if isinstance(v, int) and not isinstance(v, bool):
                level = v
    if level >= 100:
        return
    for step in ctx.steps():
        if isinstance(step.action, ast.ApproveAction):
            continue  # waits for a person below 100 whatever its risk (W0111)
        for opt in step.options:
            if isinstance(opt, ast.Option) and opt.name.name == "risk" and opt.value is not None:
                risk = constant_value(opt.value)
                if isinstance(risk, int) and not isinstance(risk, bool) \
                        and level <= risk <= 100:  # above 100: E0309 already
                    yield warning(
                        "W0106", f"step `{step.name.name}` has risk {risk}, at or above the "
                        f"flow's automation {level}: it pauses for approval at the default "
                        "automation level", opt.value.span,
                        f"lower the risk below {level} if it should run unattended")


RULE = Rule("W0106", "risk-pauses",
            "A step `risk` at or above the flow's `automation`: it pauses for approval at the "
            "default automation level.", Severity.WARNING, check)
