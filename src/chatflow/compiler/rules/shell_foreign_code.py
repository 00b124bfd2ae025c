"""W0120 shell-foreign-code: a value inside a program for another interpreter
(`python -c`, `node -e`, `perl -e`, an `awk`, `sed` or `jq` program, `env -S`,
a pipe or here-document into an interpreter). Shell quoting cannot make a
value safe in another language: pass it as data."""

from __future__ import annotations

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.shell_holes import placement_diagnostics
from chatflow.diagnostics import Diagnostic, Severity


def check(ctx: FlowContext) -> list[Diagnostic]:
    return placement_diagnostics(ctx.flow, ctx.steps(), "W0120",
                                 lambda e: ctx.typed.type_of(e).is_error)


RULE = Rule("W0120", "shell-foreign-code",
            "A value inside a program for another interpreter (`python -c`, `awk`, `| sh`...), "
            "which parses it as code; pass it as an argument, on stdin or through `env`.",
            Severity.WARNING, check)
