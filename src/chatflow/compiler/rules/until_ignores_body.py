"""W0107 until-ignores-body: a repeat whose `until` reads nothing from its body
— no field of a step inside it, no var a `set` step inside it assigns — so
every iteration ends the same way."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.diagnostics import Diagnostic, Severity, Span, warning
from chatflow.dsl import ast


def _has_error_inside(ctx: FlowContext, span: Span) -> bool:
    """Was an error reported inside `span` (an unknown name in the `until`...)?"""
    return any(d.is_error and d.span.file == span.file
               and (span.line, span.column) <= (d.span.line, d.span.column)
               and (d.span.end_line, d.span.end_column) <= (span.end_line, span.end_column)
               for d in ctx.typed.diags)


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    reads_body: set[str] = set()
    for r in ctx.typed.reads:
        if r.place != "until" or r.owner is None:
            continue
        # its own `iterations` changes every time too (`until r.iterations >= 2`);
        # reading its own `ok` is reported as read-before-run (no second diagnostic)
        if ctx.graph.is_inside(r.target, r.owner) or r.target == r.owner:
            reads_body.add(r.owner)
    # a var that a `set` step of the body assigns changes with the iterations too
    until_vars = [(owner, name) for owner, place, name in ctx.typed.name_reads
                  if place == "until" and owner is not None and owner not in reads_body]
    for owner, name in until_vars:
        if any(isinstance(s.action, ast.SetAction) and s.action.target.name == name
               and ctx.graph.is_inside(s.name.name, owner) for s in ctx.steps()):
            reads_body.add(owner)
    for g in ctx.groups():
        if g.kind == "repeat" and g.until is not None and g.name.name not in reads_body \
                and ctx.graph.nodes.get(g.name.name) is g \
                and ctx.typed.type_of(g.until).kind == "bool" \
                and not _has_error_inside(ctx, g.until.span):  # else already an error
            yield warning("W0107", f"the `until` of repeat `{g.name.name}` reads nothing that "
                          "its body changes", g.until.span,
                          "every iteration ends the same way; test a field of a step in the "
                          "body (like `test.ok`) or a var that a `set` step in the body "
                          "assigns")


RULE = Rule("W0107", "until-ignores-body",
            "A repeat whose `until` reads no field of a step in its body, nor a var the "
            "body sets.",
            Severity.WARNING, check)
