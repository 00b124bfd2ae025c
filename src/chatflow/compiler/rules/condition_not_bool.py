"""E0307 condition-not-bool: a `when` or `until` that is not a `bool`."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, error


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for site in ctx.typed.sites:
        if site.place not in ("when", "until"):
            continue
        t = ctx.typed.type_of(site.expr)
        m = ctx.typed.mismatch(site)
        if m is not None and m[0] == "type":
            yield error("E0307", f"`{site.place}` must be `bool`, found `{t}`", site.expr.span,
                        "compare it to something, like `x == \"yes\"` or `len(x) > 0`")


RULE = Rule("E0307", "condition-not-bool", "A `when` or `until` expression that is not `bool`.",
            Severity.ERROR, check)
