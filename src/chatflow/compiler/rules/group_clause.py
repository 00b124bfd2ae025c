"""E0407 group-clause: a group clause that does not fit the group's kind
(`until` outside `repeat`, `max` on a `phase`, a `repeat` without `max` or
`until`)."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, error


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for g in ctx.groups():
        name = g.name.name
        if g.kind == "repeat":
            if g.max is None or g.until is None:
                missing = " and ".join(
                    w for w, v in (("`max N`", g.max), ("`until EXPR`", g.until)) if v is None)
                yield error("E0407", f"repeat `{name}` needs {missing}", g.name.span,
                            "write `repeat NAME max N until EXPR { ... }`")
        else:
            if g.until is not None:
                yield error("E0407", f"`until` is only for `repeat`, not {g.kind} `{name}`",
                            g.until.span)
            if g.kind == "phase" and g.max is not None:
                yield error("E0407", f"`max` is not allowed on phase `{name}`", g.max.span,
                            "members of a phase run one after another; use `parallel` "
                            "with `max N`")


RULE = Rule("E0407", "group-clause",
            "A group clause that does not fit its kind: `until` outside repeat, `max` on a "
            "phase, a repeat without `max` or `until`.", Severity.ERROR, check)
