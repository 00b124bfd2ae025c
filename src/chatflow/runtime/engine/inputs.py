"""Input binding: checking the inputs given to a flow against its params
(filling defaults, widening ints to floats); new instances are named by
`store.base.new_instance_id`, re-exported here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chatflow.diagnostics import UsageError
from chatflow.runtime.evaluator import EvalError, evaluate
from chatflow.runtime.store.base import new_instance_id as new_instance_id  # re-exported
from chatflow.runtime.values import check_type, mismatch


def bind_inputs(flow: Mapping[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """Check the given inputs against the flow's params; fill defaults."""
    params = flow.get("params", [])
    names = {p["name"] for p in params}
    unknown = sorted(set(inputs) - names)
    if unknown:
        known = ", ".join(sorted(names)) or "none"
        raise UsageError(f"unknown input(s) {', '.join(unknown)} (the flow's params: {known})")
    out: dict[str, Any] = {}
    empty = EmptyScope()
    for p in params:
        name = p["name"]
        if name in inputs:
            val = inputs[name]
        elif "default" in p:
            try:
                val = evaluate(p["default"], empty)
            except EvalError as exc:
                raise UsageError(f"default of `{name}`: {exc}") from None
        else:
            raise UsageError(f"missing required input `{name}` ({p['type']})")
        if isinstance(val, int) and not isinstance(val, bool) and p["type"].startswith("float"):
            val = float(val)
        if not check_type(val, p["type"]):
            raise UsageError(f"input `{name}`: {mismatch(val, p['type'])}")
        out[name] = val
    return out


class EmptyScope:
    """The scope a param's default is evaluated in: nothing is defined."""

    def param(self, name: str) -> Any:
        raise EvalError(f"unknown parameter `{name}`")

    def var(self, name: str) -> Any:
        raise EvalError(f"unknown variable `{name}`")

    def ctx(self, name: str) -> Any:
        raise EvalError(f"unknown context value `ctx.{name}`")

    def step_field(self, step: str, field: str) -> Any:
        return None

    def self_field(self, name: str) -> Any:
        raise EvalError(f"unknown field `{name}`")
