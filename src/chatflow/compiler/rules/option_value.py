"""E0217 option-value: an option written without the value it needs
(`timeout` alone, `risk` alone, `prompt` alone, `with`/`env` without a map,
a plugin kind's option alone),
or the flag `continue_on_error` given a value.

In `.flow` text an option word alone (before `}` or another option word)
parses as an option without a value, but one followed by a bare name on a
later line (`prompt` then `nope`) parses as that option taking the name as
its value; the checker recognises that (`typecheck.swallowed_value`) and
reports it here, once."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.symbols import action_spec
from chatflow.compiler.typecheck import swallowed_value
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast

FLAGS = ("continue_on_error",)
EXAMPLES: dict[str, str] = {
    "timeout": "timeout 10m", "risk": "risk 20", "prompt": 'prompt "Summarise {spec}"',
    "cwd": 'cwd "build"', "with": "with { key: value }", "env": "env { NAME: value }",
}


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        spec = action_spec(step.action) if isinstance(step.action, ast.UnknownAction) else None
        for opt in step.options:
            if not isinstance(opt, ast.Option):
                continue
            n = opt.name.name
            if spec is not None and n in spec.options:  # a plugin kind's option
                if opt.value is None or swallowed_value(opt, ctx.symbols):
                    yield error("E0217", f"option `{n}` needs a value", opt.name.span,
                                f"write it like `{n} VALUE` (a `{spec.options[n].type}`)")
                continue
            if opt.value is None and n in EXAMPLES:
                yield error("E0217", f"option `{n}` needs a value", opt.name.span,
                            f"write it like `{EXAMPLES[n]}`")
            elif n in EXAMPLES and swallowed_value(opt, ctx.symbols):
                assert isinstance(opt.value, ast.Name)
                yield error("E0217", f"option `{n}` needs a value", opt.name.span,
                            f"`{opt.value.name}` was read as its value; write it like "
                            f"`{EXAMPLES[n]}`")
            elif opt.value is not None and n in FLAGS:
                yield error("E0217", f"option `{n}` takes no value", opt.value.span,
                            f"write `{n}` alone to turn it on, and leave it out to keep "
                            "it off")
            elif n in ("with", "env") and opt.value is not None \
                    and not isinstance(opt.value, ast.MapExpr):
                yield error("E0217", f"option `{n}` needs a map", opt.value.span,
                            f"write it like `{EXAMPLES[n]}`")


RULE = Rule("E0217", "option-value",
            "An option without the value it needs (`timeout` alone), `with`/`env` without a "
            "map, or a value given to the flag `continue_on_error`.", Severity.ERROR, check)
