"""E0304 unknown-argument: a `call` argument the callee has no param for, or
an argument given twice."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.spelling import did_you_mean
from chatflow.diagnostics import Diagnostic, Related, Severity, Span, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        a = step.action
        if not isinstance(a, ast.CallAction):
            continue
        sig = ctx.symbols.callees.get(step.name.name)
        seen: dict[str, Span] = {}
        for arg in a.args:
            n = arg.name.name
            first = seen.setdefault(n, arg.name.span)
            if first is not arg.name.span:
                yield error("E0304", f"argument `{n}` is given twice", arg.name.span, None,
                            (Related(first, "first given here"),))
            elif sig is not None and n not in sig.params:
                params = ", ".join(f"`{p}`" for p in sig.params) or "none"
                yield error("E0304", f"`{a.flow.name}` has no param `{n}`", arg.name.span,
                            did_you_mean(n, sig.params) or f"its params: {params}")


RULE = Rule("E0304", "unknown-argument",
            "A `call` argument that the callee has no param for, or one given twice.",
            Severity.ERROR, check)
