"""W0103 unused-out-field: an `out` field of a step that nothing reads."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, warning


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    used = ctx.typed.used_fields
    for step, outs in ctx.symbols.out_fields.items():
        for name, out in outs.items():
            if (step, name) not in used:
                yield warning("W0103", f"`out` field `{name}` of `{step}` is never read",
                              out.name.span, f"read it as `{step}.{name}`, or remove it")


RULE = Rule("W0103", "unused-out-field", "An `out` field of a step that nothing reads.",
            Severity.WARNING, check)
