"""E0209 unknown-setting: a flow setting or quota key that does not exist."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.spelling import did_you_mean
from chatflow.compiler.typecheck import OPTION_TYPES, QUOTA_TYPES, SETTING_TYPES
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast

STEP_OPTIONS = (*OPTION_TYPES, "retry", "out")


def _misplaced_hint(n: str) -> str | None:
    """A step clause or option written after the step's action, where the
    parser takes it for a setting of the flow."""
    if n in ("when", "after"):
        return f"`{n}` goes before the `:` of a step, like `step NAME {n} ...: ACTION`"
    if n in STEP_OPTIONS:
        return f"`{n}` is a step option: put it inside the step's braces, like " \
            f"`step NAME: ACTION {{ {n} ... }}`"
    return None


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for item in ctx.items:
        if isinstance(item, ast.Setting) and item.name.name not in SETTING_TYPES:
            n = item.name.name
            yield error("E0209", f"unknown setting `{n}`", item.name.span,
                        _misplaced_hint(n)
                        or did_you_mean(n, [*SETTING_TYPES, "quota"])
                        or "settings: " + ", ".join([*SETTING_TYPES, "quota"]))
        elif isinstance(item, ast.Quota):
            for entry in item.entries:
                k = entry.key.name
                if k not in QUOTA_TYPES:
                    yield error("E0209", f"unknown quota `{k}`", entry.key.span,
                                did_you_mean(k, QUOTA_TYPES)
                                or "quotas: " + ", ".join(QUOTA_TYPES))


RULE = Rule("E0209", "unknown-setting", "A flow setting or quota key that does not exist.",
            Severity.ERROR, check)
