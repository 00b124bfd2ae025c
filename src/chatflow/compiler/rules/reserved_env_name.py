"""E0413 reserved-env-name: a step `env` key that starts with `cf_`, the prefix
of the variables that carry a `shell` command's values (docs/ir.md): a step
could otherwise overwrite the value of a hole."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.shell_holes import BINDING_PREFIX
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        for opt in step.options:
            if not (isinstance(opt, ast.Option) and opt.name.name == "env"
                    and isinstance(opt.value, ast.MapExpr)):
                continue
            for entry in opt.value.entries:
                key = entry.key.name
                if key.startswith(BINDING_PREFIX):
                    yield error(
                        "E0413", f"environment variable `{key}` uses the prefix "
                        f"`{BINDING_PREFIX}`, which ChatFlow keeps for the values of "
                        "`shell` commands", entry.key.span,
                        f"rename it (e.g. `{key[len(BINDING_PREFIX):].upper() or 'NAME'}`)")


RULE = Rule("E0413", "reserved-env-name",
            f"A step `env` key starting with `{BINDING_PREFIX}`, the prefix ChatFlow keeps "
            "for the variables that carry a `shell` command's values.", Severity.ERROR, check)
