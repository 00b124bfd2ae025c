"""E0215 duplicate-setting: a flow setting or quota key given twice."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Related, Severity, Span, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    settings: dict[str, Span] = {}
    quotas: dict[str, Span] = {}
    for item in ctx.items:
        if isinstance(item, ast.Setting):
            first = settings.setdefault(item.name.name, item.name.span)
            if first is not item.name.span:
                yield error("E0215", f"setting `{item.name.name}` is given twice",
                            item.name.span, None, (Related(first, "first set here"),))
        elif isinstance(item, ast.Quota):
            for entry in item.entries:
                first = quotas.setdefault(entry.key.name, entry.key.span)
                if first is not entry.key.span:
                    yield error("E0215", f"quota `{entry.key.name}` is given twice",
                                entry.key.span, None, (Related(first, "first set here"),))


RULE = Rule("E0215", "duplicate-setting", "A flow setting or quota key given twice.",
            Severity.ERROR, check)
