"""W0101 unused-param: a param no expression of the flow reads."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, warning
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    used = ctx.typed.used_names
    # a param named as a `set` target is already an error (E0306), not unused
    set_targets = {s.action.target.name for s in ctx.steps()
                   if isinstance(s.action, ast.SetAction)}
    for p in ctx.flow.params:
        n = p.name.name
        if n in used or n in set_targets or n.startswith("_"):
            continue
        if ctx.symbols.params.get(n) is not None:
            yield warning("W0101", f"param `{n}` is never used", p.name.span,
                          f"remove it, or rename it `_{n}` if callers must still pass it")


RULE = Rule("W0101", "unused-param", "A param that no expression of the flow reads.",
            Severity.WARNING, check)
