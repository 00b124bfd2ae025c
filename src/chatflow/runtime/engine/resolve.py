"""Step resolution (`Resolver`): walking the eligible nodes under the lock —
cancel, skip (`when`), start groups, stop on a quota, gate on a person
(automation level, risk, `approve`), run the inline actions (`set`, `fail`,
automatic `approve`) — and claiming the steps with side effects, rendered
with the committed values, to run outside the lock."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from chatflow.runtime.actions.kinds import builtin_runtime
from chatflow.runtime.claim import Claim
from chatflow.runtime.engine.accounting import QuotaAccount
from chatflow.runtime.engine.claims import CLAIMS
from chatflow.runtime.engine.completion import complete, finish_node
from chatflow.runtime.engine.groups import finish_group, group_full, start_group
from chatflow.runtime.engine.inputs import new_instance_id
from chatflow.runtime.engine.instance import (
    Instance,
    Scope,
    iteration_of,
    strategy,
    where,
)
from chatflow.runtime.engine.instances import Instances
from chatflow.runtime.engine.lifecycle import (
    fail_instance,
    finish_instance,
    update_instance_status,
)
from chatflow.runtime.evaluator import EvalError, evaluate, render
from chatflow.runtime.records import (
    CANCELLED,
    FAILED,
    RUNNING,
    SKIPPED,
    STEP_FINISHED,
    SUCCEEDED,
    WAITING_APPROVAL,
)
from chatflow.runtime.store.records import StepRecord, utc_now
from chatflow.runtime.values import check_type, describe, mismatch

DEFAULT_LEASE_S = 3600.0


class Resolver:
    """Resolves and claims the steps of the instances one engine drives."""

    def __init__(self, owner: str, instances: Instances, quota: QuotaAccount) -> None:
        self.owner = owner
        self.instances = instances
        self.quota = quota

    def advance(self, rt: Instance, budget: int | None, ran: list[str],
                capacity: int | None = 1) -> list[Claim]:
        """Resolve eligible nodes (cancel / skip / start groups / gate / run
        inline actions) and claim steps that must run outside the lock, until
        `capacity` claims were made (None: every runnable one), nothing is
        eligible, or `budget` steps ran or were claimed. Commits after each
        inline step so every completed step is durable before the next
        starts. A `parallel NAME max N` group never has more than N running
        members: the others stay eligible for a later call."""
        sched = rt.sched
        claims: list[Claim] = []
        executed = 0
        held: set[str] = set()  # eligible, but their group is at its `max`
        while rt.inst_status not in (SUCCEEDED, FAILED, CANCELLED):
            if claims and capacity is not None and len(claims) >= capacity:
                break
            grp = sched.pop_group_done()
            if grp is not None:
                finish_group(rt, grp)
                continue
            if sched.done:
                finish_instance(rt)
                break
            nid = sched.next_eligible() if not held else \
                next((n for n in sched.eligible() if n not in held), None)
            if nid is None:
                break
            node = rt.graph.nodes[nid]
            blocker = sched.blocking_dep(nid)
            if blocker is not None:
                finish_node(rt, nid, CANCELLED,
                            error=f"dependency `{blocker}` did not succeed")
                continue
            if group_full(rt, nid):
                held.add(nid)
                continue
            when = node.get("when")
            if when is not None:
                try:
                    ok = evaluate(when, Scope(rt))
                except EvalError as exc:
                    finish_node(rt, nid, FAILED, error=where(rt, nid, "when", exc))
                    continue
                if ok is not True:
                    if ok is not False:  # a json value read at run time
                        finish_node(rt, nid, FAILED, error=where(
                            rt, nid, "when", EvalError(f"must be bool, got {describe(ok)}")))
                        continue
                    finish_node(rt, nid, SKIPPED, when=ok)
                    continue
            if rt.graph.is_group(nid):
                start_group(rt, nid)
                continue
            if budget is not None and executed + len(claims) >= budget:
                break
            if self.quota.stop_before(rt, nid):
                break
            claim = self.resolve_step(rt, nid)
            if claim is not None:
                claims.append(claim)
                continue
            if rt.step(nid).status in STEP_FINISHED:
                executed += 1
                ran.append(nid)
                update_instance_status(rt)
                self.instances.commit(rt)
        return claims

    def resolve_step(self, rt: Instance, nid: str) -> Claim | None:
        node = rt.graph.nodes[nid]
        action = node["action"]
        atype = action["type"]
        rec = rt.step(nid)
        why = gate(rt, nid)
        if why is not None:
            wait(rt, nid, why)
            return None
        if atype == "approve":  # level 100: approved without a person
            try:
                msg = render(action["message"], Scope(rt))
            except EvalError as exc:
                msg = str(exc)
            started(rt, nid, attempt=1)
            complete(rt, nid, SUCCEEDED, {"approved": True, "by": "automation",
                                          "comment": ""}, attempts=1, message=msg,
                     **self.quota.account_inline(rt))
            return None
        if atype == "set":
            started(rt, nid, attempt=rec.attempts + 1)
            try:
                value = evaluate(action["value"], Scope(rt, rec.attempts + 1))
                var_type = rt.var_types.get(action["var"])
                if var_type and not check_type(value, var_type):
                    raise EvalError(mismatch(value, var_type),
                                    f"set {action['var']}")
            except EvalError as exc:
                complete(rt, nid, FAILED, {}, attempts=rec.attempts + 1,
                         error=where(rt, nid, "set", exc))
                return None
            rt.vars[action["var"]] = value
            rt.var_changes[action["var"]] = value
            complete(rt, nid, SUCCEEDED, {}, attempts=rec.attempts + 1,
                     **self.quota.account_inline(rt))
            return None
        if atype == "fail":
            started(rt, nid, attempt=rec.attempts + 1)
            try:
                msg = render(action["message"], Scope(rt))
            except EvalError as exc:
                msg = str(exc)
            complete(rt, nid, FAILED, {}, attempts=rec.attempts + 1, error=msg,
                     **self.quota.account_inline(rt))
            if not (node.get("options") or {}).get("continue_on_error"):
                fail_instance(rt, f"step `{nid}` failed: {msg}")
            return None
        # an action with side effects: claim it (a call step going back to a
        # child a person decided on goes on with the same attempt)
        resumed = bool(rec.extra.get("resume_child"))
        attempt = rec.attempts if resumed else rec.attempts + 1
        claim = Claim(rt.instance_id, nid, action, dict(node.get("options") or {}),
                      attempt, self.owner, strategy=strategy(rt.flow))
        err = render_claim(rt, claim)
        if err is not None:
            started(rt, nid, attempt=attempt)
            complete(rt, nid, FAILED, {"ok": False}, attempts=attempt, error=err)
            return None
        timeout = claim.options.get("timeout_ms")
        lease = _now() + (timeout / 1000.0 + 60.0 if timeout else DEFAULT_LEASE_S)
        extra = dict(rec.extra)
        extra.pop("gate", None)
        extra.pop("in_doubt", None)
        extra.pop("resume_child", None)
        if atype == "call" and "child_instance_id" not in extra:
            extra["child_instance_id"] = new_instance_id(
                str(rt.ir["flows"][action["flow"]].get("name", action["flow"])))
            claim.rendered["child_instance_id"] = extra["child_instance_id"]
            rt.children.append(extra["child_instance_id"])
            rt.all_children.append(extra["child_instance_id"])
        elif atype == "call":
            claim.rendered["child_instance_id"] = extra["child_instance_id"]
        rt.put(StepRecord(name=nid, status=RUNNING, attempts=attempt, outputs=rec.outputs,
                          started_at=rec.started_at or utc_now(),
                          finished_at=rec.finished_at, owner=self.owner, lease_until=lease,
                          iterations=rec.iterations, error=rec.error, extra=extra))
        rt.sched.set_status(nid, RUNNING)
        view = event_view(claim.rendered)
        if resumed:
            view["resumed"] = True
        started(rt, nid, attempt=attempt, owner=self.owner, **view)
        CLAIMS.add(claim)
        return claim


def gate(rt: Instance, nid: str) -> str | None:
    """Why `nid` must wait for a person before it runs, or None."""
    level = rt.automation
    if level == 100:  # checked first: the common case, no record read
        return None
    if rt.step(nid).extra.get("approved_to_run"):
        return None
    node = rt.graph.nodes[nid]
    if node["action"]["type"] == "approve":
        return "approve"
    risk = int((node.get("options") or {}).get("risk", 0))
    if risk >= level:
        return "risk"
    return None


def started(rt: Instance, nid: str, **data: Any) -> None:
    """The `step_started` event (with the iteration, inside a repeat)."""
    iteration = iteration_of(rt, nid)
    if iteration is not None:
        data["iteration"] = iteration
    rt.event("step_started", nid, **data)


def render_claim(rt: Instance, claim: Claim) -> str | None:
    """Interpolate everything the action needs (under the lock, so the
    values are the committed ones). Returns an error message or None."""
    scope = Scope(rt, claim.attempt)
    a = claim.action
    o = claim.options
    r = claim.rendered
    nid = claim.step
    try:
        impl = builtin_runtime(a["type"])
        if impl is not None:  # a built-in kind fills in its own values (the registry's)
            impl.claim_values(a, o, scope, r)
        elif a["type"] == "call":  # a sub-flow: the engine's own semantics
            r["flow"] = a["flow"]
            r["args"] = {k: evaluate(v, scope) for k, v in (a.get("args") or {}).items()}
        elif "plugin" in a:
            r["plugin_values"] = plugin_values(a, scope)
        if "env" in o:
            r["env"] = {k: render(v, scope) if isinstance(v, dict) and v.get("op") == "fmt"
                        else _env_text(evaluate(v, scope)) for k, v in o["env"].items()}
        if "cwd" in o:
            r["cwd"] = render(o["cwd"], scope)
    except (EvalError, LookupError) as exc:
        return where(rt, nid, a["type"], exc)
    r["timeout_ms"] = o.get("timeout_ms")
    r["attempt"] = claim.attempt
    r["depth"] = rt.status.depth
    r["feature_id"] = rt.status.feature_id
    r["automation"] = rt.automation
    return None


def plugin_values(action: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    """A plugin kind's target and options, rendered like every kind's values;
    none when the plugin is missing or changed (the step then fails when it
    runs, saying what to install)."""
    from chatflow.runtime.actions.plugin_steps import plugin_problem, render_plugin

    return {} if plugin_problem(action) is not None else render_plugin(action, scope)


def wait(rt: Instance, nid: str, gate: str, **data: Any) -> None:
    """`nid` waits for a person (`gate` says why)."""
    rec = rt.step(nid)
    extra = {**rec.extra, "gate": gate}
    message = None
    node = rt.graph.nodes[nid]
    started_at = rec.started_at
    if gate == "approve":  # a person's decision is this step's work
        try:
            message = render(node["action"]["message"], Scope(rt))
        except EvalError as exc:
            message = str(exc)
        extra["message"] = message
        started_at = started_at or utc_now()
    rt.put(replace(rec, status=WAITING_APPROVAL, owner=None, lease_until=None, extra=extra,
                   started_at=started_at))
    rt.sched.set_status(nid, WAITING_APPROVAL)
    info: dict[str, Any] = {"gate": gate, **data}
    if message is not None:
        info["message"] = message
    if gate == "risk":
        info["risk"] = int((node.get("options") or {}).get("risk", 0))
        info["automation"] = rt.automation
    rt.event("step_waiting_approval", nid, **info)


def event_view(rendered: Mapping[str, Any]) -> dict[str, Any]:
    """What of a claim goes into the `step_started` event."""
    keys = ("command", "bindings", "target", "agent", "flow", "child_instance_id", "cwd")
    return {k: rendered[k] for k in keys if k in rendered}


def _env_text(value: Any) -> str:
    from chatflow.runtime.values import to_text

    return to_text(value)


def _now() -> float:
    return time.time()
