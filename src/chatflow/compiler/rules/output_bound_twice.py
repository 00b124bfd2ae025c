"""E0402 output-bound-twice: two `output` items for the same output."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Related, Severity, Span, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    seen: dict[str, Span] = {}
    for item in ctx.items:
        if isinstance(item, ast.OutputItem) and item.name.name in ctx.symbols.outputs:
            first = seen.setdefault(item.name.name, item.name.span)
            if first is not item.name.span:
                yield error("E0402", f"output `{item.name.name}` is bound more than once",
                            item.name.span, "every output is bound by exactly one `output` item",
                            (Related(first, "first bound here"),))


RULE = Rule("E0402", "output-bound-twice", "An output bound by more than one `output` item.",
            Severity.ERROR, check)
