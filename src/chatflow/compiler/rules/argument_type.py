"""E0305 argument-type: a `call` argument whose type does not fit the param."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, error


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for site in ctx.typed.sites:
        if site.place != "arg":
            continue
        m = ctx.typed.mismatch(site)
        if m is not None and m[0] == "type":
            yield error("E0305", f"{site.what} expects `{site.expected}`, found "
                        f"`{ctx.typed.type_of(site.expr)}`", site.expr.span)


RULE = Rule("E0305", "argument-type",
            "A `call` argument whose type does not fit the callee's param.",
            Severity.ERROR, check)
