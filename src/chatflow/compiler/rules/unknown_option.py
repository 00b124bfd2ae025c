"""E0207 unknown-option: a step option that does not exist."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.spelling import did_you_mean
from chatflow.compiler.typecheck import OPTION_TYPES
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast

OPTIONS = (*OPTION_TYPES, "retry", "out")


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        for opt in step.options:
            if isinstance(opt, ast.Option) and opt.name.name not in OPTION_TYPES:
                n = opt.name.name
                yield error("E0207", f"unknown option `{n}`", opt.name.span,
                            did_you_mean(n, OPTIONS) or "options: " + ", ".join(OPTIONS))


RULE = Rule("E0207", "unknown-option", "A step option that does not exist.",
            Severity.ERROR, check)
