"""E0207 unknown-option: a step option that no installed action kind takes
(an option another kind takes is E0216)."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.sites import GENERIC_OPTION_TYPES
from chatflow.compiler.spelling import did_you_mean
from chatflow.compiler.symbols import action_spec
from chatflow.compiler.typecheck import OPTION_TYPES
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast
from chatflow.plugins import installed_kinds

OPTIONS = (*OPTION_TYPES, "retry", "out")


def kinds_taking(option: str) -> list[str]:
    """The installed kinds that declare `option` (the built-ins first; the
    installed plugins are scanned only when no built-in kind takes it)."""
    from chatflow.plugins.builtin import BUILTIN

    found = [k.name for k in BUILTIN.values() if option in k.options]
    return found or [k.name for k in installed_kinds().values() if option in k.options]


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        spec = action_spec(step.action)
        if spec is None and isinstance(step.action, ast.UnknownAction):
            continue  # a kind that is not installed (E0208): its options are unknown too
        own = tuple(spec.options) if spec is not None else ()
        for opt in step.options:
            if not isinstance(opt, ast.Option):
                continue
            n = opt.name.name
            if n in OPTION_TYPES or n in own or kinds_taking(n):
                continue
            listed = (*GENERIC_OPTION_TYPES, "retry", "out", *own)
            yield error("E0207", f"unknown option `{n}`", opt.name.span,
                        did_you_mean(n, (*OPTIONS, *own)) or "options: " + ", ".join(listed))


RULE = Rule("E0207", "unknown-option", "A step option that no action kind takes.",
            Severity.ERROR, check)
