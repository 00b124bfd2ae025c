"""Binding a finished instance's declared outputs: an output holds a value of
its declared type or is not bound at all, never null in place of a value.

    bind_outputs(outputs, scope, status_of) -> (bound, errors)
        `outputs` is the flow's IR `outputs` list ({"name", "type", "value"}),
        `scope` the evaluator's view of the instance, `status_of(step)` a
        node's status. `bound` maps the outputs whose value evaluated to its
        declared type; `errors` says, for each other one, why it is not
        bound (`expected bool, got null (reads `b.ok`; `b` was cancelled)`).

The engine binds them when an instance ends: a succeeded instance must bind
every output (an unbound one fails it); a failed or cancelled one keeps what
could be bound.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from chatflow.runtime.evaluator import EvalError, evaluate
from chatflow.runtime.records import PENDING, SUCCEEDED, WAITING_APPROVAL
from chatflow.runtime.values import check_type, mismatch

__all__ = ["bind_outputs", "unfinished_reads"]


def bind_outputs(outputs: Iterable[Mapping[str, Any]], scope: Any,
                 status_of: Callable[[str], str | None]
                 ) -> tuple[dict[str, Any], dict[str, str]]:
    """The outputs that evaluate to their declared type, and why the others
    do not."""
    bound: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for o in outputs:
        try:
            value = evaluate(o["value"], scope)
            if not check_type(value, o["type"]):
                raise EvalError(mismatch(value, o["type"])
                                + unfinished_reads(o["value"], status_of))
            bound[o["name"]] = value
        except EvalError as exc:
            errors[o["name"]] = str(exc)
    return bound, errors


def unfinished_reads(expr: Any, status_of: Callable[[str], str | None]) -> str:
    """` (reads `b.ok`; `b` was cancelled)`: the steps an expression reads
    that did not succeed, to say why it has no value ("" when none)."""
    reads: dict[str, str] = {}
    todo = [expr]
    while todo:  # iterative: an expression may nest hundreds deep
        e = todo.pop()
        if isinstance(e, dict):
            if isinstance(e.get("step"), str) and isinstance(e.get("field"), str):
                reads.setdefault(e["step"], f"{e['step']}.{e['field']}")
            todo.extend(e.values())
        elif isinstance(e, list):
            todo.extend(e)
    why = []
    for step, read in sorted(reads.items()):
        status = status_of(step)
        if status is not None and status != SUCCEEDED:
            state = "did not run" if status in (PENDING, WAITING_APPROVAL) else f"was {status}"
            why.append(f"reads `{read}`; `{step}` {state}")
    return f" ({'; '.join(why)})" if why else ""
