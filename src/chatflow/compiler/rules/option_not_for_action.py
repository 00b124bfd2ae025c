"""E0216 option-not-for-action: an option that the step's action does not use
(`prompt` is for `agent`; `with` for `python` and `agent`)."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.symbols import action_kind
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast

ONLY_FOR: dict[str, tuple[str, ...]] = {"prompt": ("agent",), "with": ("python", "agent")}


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        kind = action_kind(step.action)
        if kind == "unknown":
            continue
        for opt in step.options:
            if isinstance(opt, ast.Option) and opt.name.name in ONLY_FOR:
                allowed = ONLY_FOR[opt.name.name]
                if kind not in allowed:
                    hint = ("pass arguments in the call: `call flow(name: value)`"
                            if kind == "call" and opt.name.name == "with" else None)
                    yield error(
                        "E0216", f"option `{opt.name.name}` does not apply to a `{kind}` step",
                        opt.name.span,
                        hint or "it is for " + " and ".join(f"`{a}`" for a in allowed)
                        + " steps")


RULE = Rule("E0216", "option-not-for-action",
            "An option the step's action ignores: `prompt` is for agent steps, `with` for "
            "python and agent steps.", Severity.ERROR, check)
