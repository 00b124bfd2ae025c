"""E0410 shell-hole-position: a value where a shell command needs fixed text: a
here-document's delimiter, the name in `${…}`, or right after a `\\` or `$`
(which would apply to the value's first character)."""

from __future__ import annotations

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.shell_holes import placement_diagnostics
from chatflow.diagnostics import Diagnostic, Severity


def check(ctx: FlowContext) -> list[Diagnostic]:
    return placement_diagnostics(ctx.flow, ctx.steps(), "E0410",
                                 lambda e: ctx.typed.type_of(e).is_error)


RULE = Rule("E0410", "shell-hole-position",
            "A value where a shell command needs fixed text: a here-document delimiter, the "
            "name in `${…}`, or right after `\\` or `$`.", Severity.ERROR, check)
