"""E0414 shell-arith-type: a value the shell evaluates as arithmetic (`$(( ))`,
`(( ))`, `${x:OFFSET}`, `let`, `[[ … -eq … ]]`) whose type is not `int`. Bash
evaluates the text of an arithmetic operand as an expression, which can run
commands (`a[$(cmd)]`), so such a value must be an integer: `int` is checked
here, `json` when the step runs."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.shell_holes import hole_source, integer_holes
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        if not isinstance(step.action, ast.ShellAction):
            continue
        for expr in integer_holes(step.action.command):
            t = ctx.typed.type_of(expr)
            if t.is_dynamic or (t.kind == "int" and not t.optional):
                continue
            what = hole_source(expr)
            shown = f"`{what}`" if what else "this value"
            hint = "unwrap it with `?? 0`" if t.kind == "int" else \
                "convert it with `int(…)` first, or move it out of the arithmetic"
            yield error("E0414", f"{shown} stands in shell arithmetic, so it must be an int, "
                        f"got {t}", expr.span, hint)


RULE = Rule("E0414", "shell-arith-type",
            "A value in shell arithmetic (`$(( ))`, `let`, `[[ -eq ]]`...) that is not an "
            "`int`: bash would evaluate its text as an expression.", Severity.ERROR, check)
