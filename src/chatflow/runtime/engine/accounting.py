"""Quota accounting (`QuotaAccount`): what each step spends, added to its
instance and rolled up to every ancestor, the checks before and after a step
and on the watcher's clock, and the stop of a tree whose quota was crossed.
The limits and the arithmetic are `runtime/quota.py`'s."""

from __future__ import annotations

from typing import Any

from chatflow.runtime.engine.completion import set_stop
from chatflow.runtime.engine.instance import Instance
from chatflow.runtime.engine.instances import Instances, StopInstanceWithEvent
from chatflow.runtime.engine.lifecycle import fail_instance
from chatflow.runtime.quota import QuotaExceeded, Spending, WallClock, wall_clock
from chatflow.runtime.quota import check as quota_check
from chatflow.runtime.quota import check_before_step as quota_check_before_step
from chatflow.runtime.records import CANCELLED, FAILED, SUCCEEDED
from chatflow.runtime.store.records import epoch_seconds


class QuotaAccount:
    """Keeps the spending of one engine's instances and enforces their quotas."""

    def __init__(self, instances: Instances, stop_instance: StopInstanceWithEvent) -> None:
        self.instances = instances
        self.stop_instance = stop_instance

    def account(self, rt: Instance, delta: Spending) -> dict[str, int]:
        """Quota bookkeeping for one executed step: add it to the instance's
        own spending (`extra.spent`) and its tree's (`extra.spent_tree`, own
        plus descendants') in this commit, check the instance's quotas, and
        roll it up to every ancestor once the lock is released (O(depth)).
        Returns what goes into the `step_completed` event."""
        own = Spending.from_dict(rt.extra.get("spent")) + delta
        tree = Spending.from_dict(rt.extra.get("spent_tree")) + delta
        rt.extra["spent"] = rt.extra_changes["spent"] = own.to_dict()
        rt.extra["spent_tree"] = rt.extra_changes["spent_tree"] = tree.to_dict()
        crossed = None
        if rt.has_limits:
            crossed = quota_check(rt.limits, tree.with_wall(wall(rt).wall_ms),
                                  rt.instance_id)
        parent = rt.status.parent_instance_id
        if crossed is not None or parent:
            rt.after_unlock.append(lambda: self.roll_up(parent, delta, crossed))
        return {"tokens": delta.tokens, "cpu_ms": delta.cpu_ms, "steps": delta.steps}

    def account_inline(self, rt: Instance) -> dict[str, Any]:
        """A `set`/`fail`/automatic `approve` step counts as one step, but
        only where someone reads it (a quota here or above): a flow without
        quotas and parent keeps its commits as small as before."""
        if not rt.has_limits and not rt.status.parent_instance_id:
            return {}
        return {"spent": self.account(rt, Spending(steps=1))}

    def roll_up(self, parent: str | None, delta: Spending,
                crossed: QuotaExceeded | None) -> None:
        """Add a step's spending to each ancestor's tree spending (one commit
        each) and stop the tree under the topmost instance whose quota it
        crossed."""
        seen: set[str] = set()
        store = self.instances.store
        while parent and parent not in seen and store.exists(parent):
            seen.add(parent)
            with self.instances.locked(parent) as prt:
                tree = Spending.from_dict(prt.extra.get("spent_tree")) + delta
                prt.extra["spent_tree"] = prt.extra_changes["spent_tree"] = tree.to_dict()
                if prt.has_limits:
                    over = quota_check(prt.limits, tree.with_wall(wall(prt).wall_ms),
                                       prt.instance_id)
                    if over is not None:
                        crossed = over
                self.instances.commit(prt)
                parent = prt.status.parent_instance_id
        if crossed is not None:
            self.quota_stop(crossed)

    def quota_stop(self, crossed: QuotaExceeded) -> None:
        """A quota was crossed: the instance that set it, and its whole
        tree, fail now (running steps killed) with a `quota_exceeded` event."""
        assert crossed.instance_id is not None
        self.stop_instance(crossed.instance_id, FAILED, crossed.message,
                           ("quota_exceeded", crossed.to_event_data()))

    def stop_before(self, rt: Instance, nid: str) -> bool:
        """Whether starting one more step would cross this instance's quota
        (then the instance stops here, and its tree once the lock is free)."""
        if not rt.has_limits or rt.inst_status in (SUCCEEDED, FAILED, CANCELLED):
            return False
        tree = Spending.from_dict(rt.extra.get("spent_tree"))
        crossed = quota_check_before_step(rt.limits, tree.with_wall(wall(rt).wall_ms),
                                          rt.instance_id)
        if crossed is None:
            return False
        rt.event("quota_exceeded", nid, **crossed.to_event_data())
        set_stop(rt, "quota_exceeded", crossed.message)
        fail_instance(rt, crossed.message, FAILED)
        # the children are failed by fail_instance through stop_children
        return True

    def check_wall(self, iid: str) -> None:
        """Wall-time quotas are checked by the watcher too (a long step must
        not outlive its budget)."""
        rt = self.instances.cache.get(iid)
        if rt is None or rt.limits.wall_ms is None:
            return
        spent_wall = wall(rt).wall_ms
        if spent_wall > rt.limits.wall_ms:
            tree = Spending.from_dict(rt.extra.get("spent_tree")).with_wall(spent_wall)
            crossed = quota_check(rt.limits, tree, iid)
            if crossed is not None:
                self.quota_stop(crossed)


def wall(rt: Instance) -> WallClock:
    """What the `wall` quota counts: time since the instance was created
    minus the time it waited for a person (`extra.waiting`, committed
    with each status change, so a crash loses none of it)."""
    st = rt.status
    end = None
    if st.status in (SUCCEEDED, FAILED, CANCELLED):
        end = epoch_seconds(st.updated_at)
    return wall_clock(st.created_at, end, rt.extra.get("waiting"))
