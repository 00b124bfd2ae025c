"""W0101 unused-param: a param no expression of the flow reads.

Arguments are passed by name (`call f(x: 1)`, `chatflow run -i x=1`), so the
hint never suggests a rename that would quietly break a caller: it names the
calls of this program that pass the argument, or says what a `_` name means
for callers."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Related, Severity, warning
from chatflow.dsl import ast

MAX_NOTES = 3


def _passed(ctx: FlowContext, name: str) -> list[ast.Argument]:
    """The arguments `name:` of the calls of this flow, anywhere in the program."""
    out: list[ast.Argument] = []
    for unit in ctx.program.units.values():
        for item in ast.iter_items(unit.flow.items):
            if isinstance(item, ast.Step) and isinstance(item.action, ast.CallAction) \
                    and unit.callables.get(item.action.flow.name) == ctx.unit.key:
                out += [a for a in item.action.args if a.name.name == name]
    return out


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    used = ctx.typed.used_names
    # a param named as a `set` target is already an error (E0306), not unused
    set_targets = {s.action.target.name for s in ctx.steps()
                   if isinstance(s.action, ast.SetAction)}
    for p in ctx.flow.params:
        n = p.name.name
        if n in used or n in set_targets or n.startswith("_"):
            continue
        if ctx.symbols.params.get(n) is None:
            continue
        passed = _passed(ctx, n)
        if passed:
            yield warning("W0101", f"param `{n}` is never used", p.name.span,
                          f"remove it, and the `{n}:` argument from the calls that pass it",
                          tuple(Related(a.span, f"`{n}` passed here")
                                for a in passed[:MAX_NOTES]))
        else:
            yield warning("W0101", f"param `{n}` is never used", p.name.span,
                          f"remove it; to keep it unused, name it `_{n}` (callers then pass "
                          f"`_{n}:`, and `chatflow run` takes `-i _{n}=...`)")


RULE = Rule("W0101", "unused-param", "A param that no expression of the flow reads.",
            Severity.WARNING, check)
