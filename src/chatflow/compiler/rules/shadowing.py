"""W0105 shadowing: a name that hides another one — a param, var, step or group
named like a built-in function or `ctx`; an `out` field named like a field
the action already yields (a call's include the callee's outputs); a step's
own field hiding a flow name in `out`."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.symbols import ACTION_FIELDS, action_fields, action_kind
from chatflow.compiler.typecheck import BUILTINS
from chatflow.diagnostics import Diagnostic, Severity, warning
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    yield from ctx.typed.reported("W0105")
    for sym in ctx.symbols.names.values():
        if sym.name == "ctx":
            yield warning("W0105", f"{sym.kind} `ctx` shadows the built-in `ctx`", sym.span,
                          "`ctx.instance_id` and friends cannot be read in this flow; rename it")
        elif sym.name in BUILTINS:
            yield warning("W0105", f"{sym.kind} `{sym.name}` has the name of the built-in "
                          f"function `{sym.name}`", sym.span, "rename it to avoid confusion")
    for step in ctx.steps():
        outs = [o for o in step.options if isinstance(o, ast.OutField)]
        if not outs:
            continue
        kind = action_kind(step.action)
        own = ACTION_FIELDS.get(kind, {})
        callee = ctx.symbols.callees.get(step.name.name)
        fields = action_fields(step.action, callee)  # a call's include the callee's outputs
        for opt in outs:
            if opt.name.name in fields:
                n = opt.name.name
                what = f"the `{n}` field of a `{kind}` step" if n in own or callee is None \
                    else f"the output `{n}` of `{callee.name}`"
                yield warning("W0105", f"`out {n}` shadows {what}", opt.name.span,
                              f"readers of `{step.name.name}.{n}` get the `out` value; "
                              "rename it")


RULE = Rule("W0105", "shadowing",
            "A name that hides another: a built-in function or `ctx`, a field of the step's "
            "action, or a flow name inside an `out` expression.", Severity.WARNING, check)
