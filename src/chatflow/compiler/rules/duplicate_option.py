"""E0213 duplicate-option: a step option (or `out` field) written twice."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Related, Severity, Span, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        seen: dict[str, Span] = {}
        outs: dict[str, Span] = {}
        for opt in step.options:
            if isinstance(opt, ast.OutField):
                first = outs.setdefault(opt.name.name, opt.name.span)
                if first is not opt.name.span:
                    yield error("E0213", f"duplicate `out` field `{opt.name.name}`",
                                opt.name.span, None, (Related(first, "first defined here"),))
                continue
            name, span = ("retry", opt.span) if isinstance(opt, ast.RetryOption) \
                else (opt.name.name, opt.name.span)
            first = seen.setdefault(name, span)
            if first is not span:
                yield error("E0213", f"duplicate option `{name}`", span,
                            "each option may be written once per step",
                            (Related(first, "first set here"),))


RULE = Rule("E0213", "duplicate-option", "A step option or `out` field written twice.",
            Severity.ERROR, check)
