"""E0302 optional-value: a value that may be null (`T?`, a field of a step that
may not run) used where a plain `T` is required."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, error


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    yield from ctx.typed.reported("E0302")
    for site in ctx.typed.sites:
        m = ctx.typed.mismatch(site)
        if m is not None and m[0] == "optional":
            yield error("E0302", m[1], site.expr.span, m[2])


RULE = Rule("E0302", "optional-value",
            "A value that may be null (`T?`) used where `T` is required; unwrap it with "
            "`?? default`.", Severity.ERROR, check)
