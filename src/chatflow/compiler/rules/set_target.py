"""E0306 set-target: a `set` step whose target is not a `var`."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.spelling import did_you_mean
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        a = step.action
        if not isinstance(a, ast.SetAction):
            continue
        n = a.target.name
        sym = ctx.symbols.lookup(n)
        if sym is None:
            yield error("E0306", f"cannot `set` `{n}`: there is no var `{n}`", a.target.span,
                        did_you_mean(n, ctx.symbols.vars)
                        or f"declare it first: `var {n}: TYPE = VALUE`")
        elif sym.kind != "var":
            yield error("E0306", f"cannot `set` `{n}`: it is a {sym.kind}, not a var",
                        a.target.span, "only a `var` can be changed by `set`")


RULE = Rule("E0306", "set-target", "A `set` step whose target is not a `var` of the flow.",
            Severity.ERROR, check)
