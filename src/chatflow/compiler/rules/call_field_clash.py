"""E0315 call-field-clash: a called flow declares an output named like a field
the `call` step has of its own (`ok`, `instance_id`), so `STEP.ok` would
read the step's field and the output could never be read.

Where it is reported:
- at the output's declaration when a flow of the same file calls it: that is
  the one place to fix, however many calls there are (each is a note);
- at the call when the callee is in another file (imported, or the standard
  library): each file is checked on its own, the callee's file may be one its
  user cannot change, and the clash exists only because of this call; the
  declaration is a note.
A flow that declares such an output and is not called from its own file gets
the warning W0110 instead (`reserved_output`).
"""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.symbols import CALL_STEP_FIELDS
from chatflow.diagnostics import Diagnostic, Related, Severity, error
from chatflow.dsl import ast

MAX_NOTES = 3


def calls_of(ctx: FlowContext, key: str) -> list[ast.Step]:
    """The `call` steps of the flows of this file that call the unit `key`."""
    out: list[ast.Step] = []
    for unit in ctx.program.units.values():
        if unit.module is not ctx.unit.module:
            continue
        for item in ast.iter_items(unit.flow.items):
            if isinstance(item, ast.Step) and isinstance(item.action, ast.CallAction) \
                    and unit.callables.get(item.action.flow.name) == key:
                out.append(item)
    return out


def reserved_outputs(flow: ast.Flow) -> list[ast.OutputDecl]:
    return [o for o in flow.outputs if o.name.name in CALL_STEP_FIELDS]


_RENAME = {"ok": "passed", "instance_id": "run_id"}


def hint_for(name: str) -> str:
    return (f"rename the output (like `{_RENAME.get(name, name + '_out')}`): a call step's "
            f"`{name}` is {CALL_STEP_FIELDS[name]}")


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    reserved = reserved_outputs(ctx.flow)
    if reserved:
        callers = calls_of(ctx, ctx.unit.key)
        if callers:
            notes = tuple(Related(s.action.span, f"called by step `{s.name.name}`")
                          for s in callers[:MAX_NOTES])
            for o in reserved:
                n = o.name.name
                yield error("E0315", f"flow `{ctx.flow.name.name}` is called, so its output "
                            f"cannot be named `{n}`: `{callers[0].name.name}.{n}` is "
                            f"{CALL_STEP_FIELDS[n]}", o.name.span, hint_for(n), notes)
    for name, sig in ctx.symbols.callees.items():  # the call steps whose callee is known
        callee = ctx.program.units.get(sig.key)
        if callee is None or callee.module is ctx.unit.module:
            continue
        step = ctx.symbols.names[name].node
        assert isinstance(step, ast.Step) and isinstance(step.action, ast.CallAction)
        action = step.action
        for o in reserved_outputs(callee.flow):
            n = o.name.name
            where = "the standard library's" if callee.key.startswith("std:") else "the"
            yield error(
                "E0315", f"`{action.flow.name}` declares an output `{n}`, which this call "
                f"cannot return: `{step.name.name}.{n}` is {CALL_STEP_FIELDS[n]}",
                action.flow.span, f"rename that output of {where} flow `{action.flow.name}`",
                (Related(o.name.span, f"output `{n}` declared here"),))


RULE = Rule("E0315", "call-field-clash",
            "A called flow declares an output named like a field of the call step itself "
            "(`ok`, `instance_id`), which callers could never read.", Severity.ERROR, check)
