"""E0202 duplicate-name: a name defined twice in one namespace (steps, groups,
vars and params of a flow; flows of a file; declared outputs)."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Related, Severity, Span, error


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    yield from ctx.reported("E0202")  # the symbol table finds the flow-level ones
    if ctx.first_in_module:
        seen: dict[str, Span] = {}
        for flow in ctx.unit.module.flows:
            first = seen.setdefault(flow.name.name, flow.name.span)
            if first is not flow.name.span:
                yield error("E0202", f"flow `{flow.name.name}` is defined more than once in "
                            "this file", flow.name.span, None,
                            (Related(first, "first defined here"),))


RULE = Rule("E0202", "duplicate-name",
            "A name defined twice: steps, groups, vars and params share one namespace per "
            "flow; flows of a file and declared outputs must be unique too.",
            Severity.ERROR, check)
