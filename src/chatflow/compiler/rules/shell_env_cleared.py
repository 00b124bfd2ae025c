"""W0121 shell-env-cleared: a value inside the script of a nested shell that
does not get ChatFlow's environment: behind `sudo` (without `-E`), `env -i`,
`doas` or `su -`, on another machine (`ssh HOST CMD`), or in a container
(`docker … sh -c`). The reference reaches it unexpanded (never the value's
text) but reads as an empty string there."""

from __future__ import annotations

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.shell_holes import placement_diagnostics
from chatflow.diagnostics import Diagnostic, Severity


def check(ctx: FlowContext) -> list[Diagnostic]:
    return placement_diagnostics(ctx.flow, ctx.steps(), "W0121",
                                 lambda e: ctx.typed.type_of(e).is_error)


RULE = Rule("W0121", "shell-env-cleared",
            "A value in the script of a nested shell that does not get ChatFlow's environment "
            "(`sudo`, `env -i`, `ssh`, a container), where it reads as empty.",
            Severity.WARNING, check)
