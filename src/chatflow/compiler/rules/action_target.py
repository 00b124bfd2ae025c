"""E0218 action-target: a step of a plugin's kind without the quoted target
its kind takes (`step ping: http { … }`: no URL), or with one its kind does
not take. Whether a kind takes a target is the registry's (`ActionKind.target`);
the built-in kinds' own syntax already requires or refuses theirs (E0101)."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.symbols import action_spec
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        a = step.action
        if not isinstance(a, ast.UnknownAction):
            continue
        spec = action_spec(a)
        if spec is None:  # not installed: E0208
            continue
        n = a.name.name
        what = spec.target_doc or "TARGET"
        if spec.target is not None and a.arg is None:
            yield error("E0218", f"`{n}` takes a target ({what}), and this step has none",
                        a.name.span, f'write it like `step {step.name.name}: {n} "{what}"`')
        elif spec.target is None and a.arg is not None:
            yield error("E0218", f"`{n}` takes no target", a.arg.span,
                        f"remove it; `{n}` takes its values as options in `{{ … }}`")


RULE = Rule("E0218", "action-target",
            "A step of a plugin's kind without the quoted target the kind takes "
            "(`http` without its URL), or with one the kind does not take.",
            Severity.ERROR, check)
