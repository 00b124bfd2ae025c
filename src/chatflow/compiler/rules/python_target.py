"""E0314 python-target: a `python` action whose target is not `pkg.module:function`."""

from __future__ import annotations

import re
from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast

TARGET = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        a = step.action
        if isinstance(a, ast.PythonAction):
            v = a.target.value
            if not isinstance(v, str) or TARGET.fullmatch(v) is None:
                yield error("E0314", f"python target `{v}` is not `package.module:function`",
                            a.target.span, "for example `mytools.checks:run_all`")


RULE = Rule("E0314", "python-target",
            "A `python` action target that is not of the form `package.module:function`.",
            Severity.ERROR, check)
