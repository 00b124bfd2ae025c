"""W0121 shell-env-cleared: a value inside the script of a nested shell started
through a wrapper that clears the environment (`sudo` without `-E`, `env -i`,
`doas`): the nested shell's reference to the value reads an empty string."""

from __future__ import annotations

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.shell_holes import placement_diagnostics
from chatflow.diagnostics import Diagnostic, Severity


def check(ctx: FlowContext) -> list[Diagnostic]:
    return placement_diagnostics(ctx.flow, ctx.steps(), "W0121")


RULE = Rule("W0121", "shell-env-cleared",
            "A value in a nested shell's script behind a wrapper that clears the environment "
            "(`sudo`, `env -i`), where it reads as empty.", Severity.WARNING, check)
