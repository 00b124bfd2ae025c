"""E0216 option-not-for-action: an option that the step's action kind does not
take but another kind does (`prompt` is for `agent`; `with` for `python` and
`agent`; a plugin's options for its kind). Which kind takes which option is
the registry's (`chatflow.plugins`)."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.rules.unknown_option import kinds_taking
from chatflow.compiler.sites import GENERIC_OPTION_TYPES
from chatflow.compiler.symbols import action_spec
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        spec = action_spec(step.action)
        if spec is None:
            continue
        kind = spec.name
        for opt in step.options:
            if not isinstance(opt, ast.Option):
                continue
            n = opt.name.name
            if n in GENERIC_OPTION_TYPES or n in spec.options:
                continue
            allowed = kinds_taking(n)
            if not allowed:
                continue  # E0207
            hint = ("pass arguments in the call: `call flow(name: value)`"
                    if kind == "call" and n == "with" else None)
            yield error(
                "E0216", f"option `{n}` does not apply to a `{kind}` step", opt.name.span,
                hint or "it is for " + " and ".join(f"`{a}`" for a in allowed) + " steps")


RULE = Rule("E0216", "option-not-for-action",
            "An option the step's action kind does not take: `prompt` is for agent steps, "
            "`with` for python and agent steps, a plugin's options for its kind.",
            Severity.ERROR, check)
