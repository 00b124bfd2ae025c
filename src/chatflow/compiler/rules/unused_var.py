"""W0102 unused-var: a var that no expression reads (only `set`, or nothing)."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, warning
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    used = ctx.typed.used_names
    for item in ctx.items:
        if isinstance(item, ast.Var):
            n = item.name.name
            sym = ctx.symbols.lookup(n)
            if n not in used and sym is not None and sym.node is item:
                yield warning("W0102", f"var `{n}` is never read", item.name.span,
                              "remove it, or read it in a `when`, an option or an output")


RULE = Rule("W0102", "unused-var", "A var that no expression reads.", Severity.WARNING, check)
