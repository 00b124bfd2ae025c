"""W0110 reserved-output: an output named like a field a `call` step has of its
own (`ok`, `instance_id`) in a flow no flow of its file calls. Nothing breaks
yet, but a flow that calls it later reads the call step's field, never the
output; once a flow of the file calls it, it is the error E0315."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.rules.call_field_clash import calls_of, hint_for, reserved_outputs
from chatflow.diagnostics import Diagnostic, Severity, warning


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    reserved = reserved_outputs(ctx.flow)
    if not reserved or calls_of(ctx, ctx.unit.key):
        return  # called: E0315
    for o in reserved:
        n = o.name.name
        yield warning("W0110", f"output `{n}` could not be read by a flow that calls "
                      f"`{ctx.flow.name.name}`: a call step's own `{n}` comes first",
                      o.name.span, hint_for(n))


RULE = Rule("W0110", "reserved-output",
            "An output named like a field of a call step (`ok`, `instance_id`): a caller "
            "could not read it.", Severity.WARNING, check)
