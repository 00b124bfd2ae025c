"""E0301 type-mismatch: a value of the wrong type for its place (var, output,
`set`, option, setting, `out`, param default, `env` value) or for an operator.
An `env` value must be one scalar (`str int float bool duration`, or `json`
checked at run time): it becomes the text of one environment variable."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, error

# places whose mismatches have their own codes
OWN_CODES = ("arg", "when", "until")


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    yield from ctx.typed.reported("E0301")
    for site in ctx.typed.sites:
        if site.place in OWN_CODES:
            continue
        m = ctx.typed.mismatch(site)
        if m is not None and m[0] == "type":
            yield error("E0301", m[1], site.expr.span,
                        m[2] or f"{site.what} must be `{site.expected}`")


RULE = Rule("E0301", "type-mismatch",
            "A value of the wrong type for its place or for an operator "
            "(\"expected `bool`, found `str`\").", Severity.ERROR, check)
