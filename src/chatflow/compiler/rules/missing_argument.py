"""E0303 missing-argument: a `call` that does not pass a required param."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.spelling import suggest
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for step in ctx.steps():
        a = step.action
        sig = ctx.symbols.callees.get(step.name.name)
        if not isinstance(a, ast.CallAction) or sig is None:
            continue
        given = {arg.name.name for arg in a.args}
        # a misspelt argument (`isue:` for `issue`) is reported once, as unknown
        # with "did you mean", not also as a missing `issue`
        meant = {suggest(n, sig.params) for n in given if n not in sig.params}
        missing = [n for n, (_t, has_default) in sig.params.items()
                   if not has_default and n not in given and n not in meant]
        if missing:
            names = ", ".join(f"`{n}`" for n in missing)
            s = "s" if len(missing) > 1 else ""
            signature = ", ".join(f"{n}: {t}" + (" = ..." if d else "")
                                  for n, (t, d) in sig.params.items())
            known = all(not t.is_error for t, _d in sig.params.values())
            yield error("E0303", f"missing argument{s} {names} in call to `{a.flow.name}`",
                        a.flow.span, f"`{a.flow.name}` takes ({signature})" if known else None)


RULE = Rule("E0303", "missing-argument",
            "A `call` that leaves out a param of the callee that has no default.",
            Severity.ERROR, check)
