"""E0406 misplaced-setting: a flow setting or quota written inside a group."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.typecheck import SETTING_TYPES
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for group in ctx.groups():
        for item in group.items:
            if isinstance(item, ast.Setting) and item.name.name in SETTING_TYPES:
                # an unknown setting is E0209 only (often a step option or clause
                # the parser took for a setting)
                yield error("E0406", f"setting `{item.name.name}` must be at the top level of "
                            "the flow", item.name.span,
                            f"move it out of {group.kind} `{group.name.name}`")
            elif isinstance(item, ast.Quota):
                yield error("E0406", "`quota` must be at the top level of the flow", item.span,
                            f"move it out of {group.kind} `{group.name.name}`")


RULE = Rule("E0406", "misplaced-setting",
            "A flow setting or `quota` written inside a phase, parallel or repeat.",
            Severity.ERROR, check)
