"""E0308 default-not-constant: a param default that is not a constant."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.typecheck import is_constant
from chatflow.diagnostics import Diagnostic, Severity, error


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for p in ctx.flow.params:
        if p.default is not None and not is_constant(p.default):
            yield error("E0308", f"the default of `{p.name.name}` must be a constant",
                        p.default.span,
                        "use a literal (string, number, bool, null, duration) or a list or "
                        "map of literals")


RULE = Rule("E0308", "default-not-constant", "A param default that is not a constant value.",
            Severity.ERROR, check)
