"""E0208 unknown-action: a step whose action kind is not installed (neither
one of the seven built-in kinds nor a plugin's, docs/plugins.md)."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.spelling import did_you_mean
from chatflow.compiler.symbols import action_spec
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast
from chatflow.plugins import kind_names


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        a = step.action
        if isinstance(a, ast.UnknownAction) and action_spec(a) is None:
            n = a.name.name
            kinds = kind_names()
            yield error("E0208", f"unknown action `{n}`", a.name.span,
                        did_you_mean(n, kinds) or "actions: " + ", ".join(kinds))


RULE = Rule("E0208", "unknown-action",
            "A step action that is no installed kind: not shell, python, agent, approve, "
            "call, set, fail, nor a plugin's kind (`chatflow plugins` lists them).",
            Severity.ERROR, check)
