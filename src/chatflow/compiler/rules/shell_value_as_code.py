"""E0412 shell-value-as-code: a value inside a substitution (`$( )`,
backticks, `${…}`) whose output becomes part of the script of a nested shell
(`sh -c "$(echo {v})"`, `eval`), so that shell would parse the value."""

from __future__ import annotations

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.shell_holes import placement_diagnostics
from chatflow.diagnostics import Diagnostic, Severity


def check(ctx: FlowContext) -> list[Diagnostic]:
    return placement_diagnostics(ctx.flow, ctx.steps(), "E0412",
                                 lambda e: ctx.typed.type_of(e).is_error)


RULE = Rule("E0412", "shell-value-as-code",
            "A value whose text would become part of a nested shell's script (inside "
            "`$( )`, backticks or `${…}` in `sh -c`'s script or `eval`'s text).",
            Severity.ERROR, check)
