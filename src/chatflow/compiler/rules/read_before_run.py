"""E0405 read-before-run: an expression reads `X.field` but its item does not
depend (directly or transitively) on X. Allowed exceptions: a repeat's
`until` reads its own body (and the repeat's `iterations`), `output` items
read anything, a step's `out` reads its own fields."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, error


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    g = ctx.graph
    if g.has_cycle or g.broken:
        return  # the order is unknown until E0203/E0404 are fixed: no cascade
    reported: set[tuple[str | None, str]] = set()
    for r in ctx.typed.reads:
        if r.place == "output" or (r.owner, r.target) in reported:
            continue
        read = f"`{r.target}.{r.field}`"
        if r.owner is None:
            reported.add((r.owner, r.target))
            yield error("E0405", f"the initial value of a var reads {read} before any step runs",
                        r.span, f"vars start before the steps; use a `set` step after "
                        f"`{r.target}` instead")
            continue
        owner = r.owner
        if r.target == owner:
            if r.place == "out" or (r.place == "until" and r.field == "iterations"):
                continue  # own fields in `out`; iterations so far in a repeat's `until`
            reported.add((owner, r.target))
            if r.place == "until":
                hint = (f"its fields exist only once it has finished; test a step of its "
                        f"body (`until test.ok`) or `{owner}.iterations`")
            else:
                hint = ("fields exist only once it has run; read them in an `out` field or "
                        "from a later step")
            yield error("E0405", f"`{owner}` reads its own field {read} before it has run",
                        r.span, hint)
            continue
        if r.place == "until" and g.is_inside(r.target, owner):
            continue
        if g.runs_after(owner, r.target):
            continue
        reported.add((owner, r.target))
        if g.is_inside(owner, r.target):
            yield error("E0405", f"`{owner}` reads {read} but runs inside `{r.target}`, "
                        "which finishes only after it", r.span,
                        "read the group's fields from a step after the group")
            continue
        yield error("E0405", f"`{owner}` reads {read} but does not run after `{r.target}`",
                    r.span, f"add `after {r.target}`")


RULE = Rule("E0405", "read-before-run",
            "An item reads `X.field` without depending on X (add `after X`).",
            Severity.ERROR, check)
