"""Starting an instance: the IR upgraded if old, the inputs bound, the vars
evaluated, the IR pinned in the store (once per IR object), and the
instance created with its `instance_started` event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chatflow.diagnostics import UsageError
from chatflow.runtime.engine.inputs import bind_inputs, new_instance_id
from chatflow.runtime.engine.instance import Instance, Scope
from chatflow.runtime.engine.instances import Instances
from chatflow.runtime.evaluator import EvalError, evaluate
from chatflow.runtime.records import RUNNING, WorkflowStartResult
from chatflow.runtime.scheduler import FlowGraph
from chatflow.runtime.store.records import NewEvent, StateRecord, StatusRecord, utc_now


def start_instance(instances: Instances, ir: dict[str, Any], *, flow_key: str | None = None,
                   inputs: Mapping[str, Any] | None = None, feature_id: str | None = None,
                   automation: int | None = None, parent_instance_id: str | None = None,
                   depth: int = 0, instance_id: str | None = None) -> WorkflowStartResult:
    if ir.get("ir_version") == 1:
        from chatflow.compiler.ir import upgrade_ir

        ir = upgrade_ir(ir)
    key = flow_key or str(ir["entry"])
    if key not in ir["flows"]:
        raise UsageError(f"flow `{key}` is not in the IR")
    flow = ir["flows"][key]
    settings = flow.get("settings") or {}
    level = automation if automation is not None else settings.get("automation", 100)
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 100:
        raise UsageError(f"automation must be an integer 0..100, got {level!r}")
    values = bind_inputs(flow, dict(inputs or {}))
    iid = instance_id or new_instance_id(str(flow.get("name", key)))
    now = utc_now()
    name = str(flow.get("name", key))
    version = str(settings.get("version", "0"))
    # the store hashes the IR when pinning it (once per IR object here:
    # every `call` step starts a child from the same IR)
    pinned = instances.pins.get((id(ir), name, version))
    ref = pinned[1] if pinned is not None and pinned[0] is ir else None
    graph = instances.graphs.get(f"{ref.sha256}:{key}") if ref is not None else None
    if graph is None:
        graph = FlowGraph.from_ir(flow)
    status = StatusRecord(
        instance_id=iid, flow=name,
        flow_version=str(settings.get("version", "")), status=RUNNING,
        feature_id=feature_id, parent_instance_id=parent_instance_id, depth=depth,
        automation=level, created_at=now, updated_at=now,
    )
    state = StateRecord(instance_id=iid, inputs=values, variables={}, ir_ref=ref,
                        extra={"flow_key": key})
    # vars are evaluated with the params in scope
    tmp = Instance(status, state, ir, graph)
    variables: dict[str, Any] = {}
    for v in flow.get("vars", []):
        try:
            val = evaluate(v["value"], Scope(tmp))
        except EvalError as exc:
            raise UsageError(f"var `{v['name']}`: {exc}") from None
        variables[v["name"]] = val
        tmp.vars[v["name"]] = val
    store = instances.store
    if ref is None:
        ref = store.pin_ir(ir, name, version)
        if len(instances.pins) >= 64:
            instances.pins.clear()
        instances.pins[(id(ir), name, version)] = (ir, ref)
        instances.graphs.setdefault(f"{ref.sha256}:{key}", graph)
    state = StateRecord(instance_id=iid, inputs=values, variables=variables, ir_ref=ref,
                        extra={"flow_key": key})
    instances.irs[ref.sha256] = ir
    events = [NewEvent("instance_started", None, {
        "flow": status.flow, "flow_key": key, "inputs": values,
        "automation": level, "feature_id": feature_id,
        "parent_instance_id": parent_instance_id, "depth": depth,
    }, now)]
    store.create_instance(status, state, events)
    return WorkflowStartResult(iid, status.flow, RUNNING, feature_id, level,
                               parent_instance_id, depth)
