"""E0411 shell-quoted-heredoc: a value inside a quoted here-document
(`<<'EOF'`) that cannot be reopened: inside a nested script or backticks, or
with a delimiter that is not a plain word. (In the command's own text such a
document is reopened: its delimiter unquoted, its own `\\ $ `` escaped.)"""

from __future__ import annotations

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.shell_holes import placement_diagnostics
from chatflow.diagnostics import Diagnostic, Severity


def check(ctx: FlowContext) -> list[Diagnostic]:
    return placement_diagnostics(ctx.flow, ctx.steps(), "E0411",
                                 lambda e: ctx.typed.type_of(e).is_error)


RULE = Rule("E0411", "shell-quoted-heredoc",
            "A value inside a quoted here-document (`<<'EOF'`) that ChatFlow cannot reopen, "
            "where the shell expands nothing.", Severity.ERROR, check)
