"""E0313 constant-required: a setting, `timeout`, `risk`, `retry` or group
`max` that is not a constant (they are fixed when the flow is compiled)."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.typecheck import is_constant
from chatflow.diagnostics import Diagnostic, Severity, error


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for site in ctx.typed.sites:
        if site.constant and site.place != "default" and not is_constant(site.expr):
            yield error("E0313", f"{site.what} must be a constant", site.expr.span,
                        "it is fixed when the flow is compiled; write a literal value")


RULE = Rule("E0313", "constant-required",
            "A setting, quota, `timeout`, `risk`, `retry` or group `max` that is not a "
            "literal value.", Severity.ERROR, check)
