"""The driver loop (`Driver`): claim under the lock, run each claimed step
(in the driving thread for a sequential flow, else in a thread of its own),
reap, repeat — until the instance finishes, blocks on a
person, or its step budget is spent; and the clean-up after a Ctrl-C (every
step this engine runs is killed and recorded as interrupted)."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator

from chatflow.diagnostics import ChatflowError
from chatflow.runtime.claim import Claim
from chatflow.runtime.engine.claims import CLAIMS
from chatflow.runtime.engine.execute import Executor
from chatflow.runtime.engine.instance import Instance
from chatflow.runtime.engine.instance import strategy as flow_strategy
from chatflow.runtime.engine.instances import EventSink, Instances
from chatflow.runtime.engine.lifecycle import update_instance_status
from chatflow.runtime.engine.recovery import recover
from chatflow.runtime.engine.resolve import Resolver, gate
from chatflow.runtime.engine.views import instance_state
from chatflow.runtime.records import CANCELLED, FAILED, SUCCEEDED, WorkflowInstanceState
from chatflow.runtime.scheduler import FlowGraph

POLL_S = 0.05

Done = queue.Queue[tuple[str, BaseException | None]]


class Driver:
    """Drives the instances of one engine (any number of threads at once)."""

    def __init__(self, owner: str, instances: Instances, resolver: Resolver,
                 executor: Executor, interrupted: threading.Event) -> None:
        self.owner = owner
        self.instances = instances
        self.resolver = resolver
        self.executor = executor
        self.interrupted = interrupted
        """Set on Ctrl-C / SIGTERM: running steps are killed and their results
        dropped; each is recorded as interrupted (see `record_interruptions`)."""

    def drive(self, instance_id: str, *, max_steps: int | None = None,
              wait_for_others: bool = True, sink: EventSink | None = None
              ) -> WorkflowInstanceState:
        """See `Engine.drive`."""
        instances = self.instances
        store = instances.store
        previous = instances.sink
        if sink is not None:
            instances.sink = sink
        current_sink = instances.sink
        ran: list[str] = []
        inflight: dict[str, threading.Thread] = {}
        done: Done = queue.Queue()
        errors: list[BaseException] = []

        def reap(block: bool) -> None:
            try:
                step, exc = done.get(timeout=POLL_S) if block else done.get_nowait()
            except queue.Empty:
                if block:  # a Ctrl-C may have cut a reap short after its get()
                    for name in [n for n, t in inflight.items() if not t.is_alive()]:
                        del inflight[name]
                return
            t = inflight.pop(step, None)
            if t is None:
                return
            t.join()
            ran.append(step)
            if exc is not None:
                errors.append(exc)
            reap(False)

        interrupted: list[str] | None = None  # after Ctrl-C: instances with killed steps
        prestarted = False
        try:
            while not errors and not self.interrupted.is_set():
                reap(False)
                budget = None if max_steps is None else max_steps - len(ran) - len(inflight)
                if budget is not None and budget <= 0:
                    break
                with instances.locked(instance_id) as rt:
                    claims: list[Claim] = []
                    strategy = flow_strategy(rt.flow)
                    if rt.inst_status not in (SUCCEEDED, FAILED, CANCELLED):
                        recover(store, rt)
                        claims = self.resolver.advance(
                            rt, budget, ran, 1 if strategy == "sequential" else None)
                        update_instance_status(rt)
                        instances.commit(rt)
                    others = [n for n in rt.running if n not in inflight]
                    inst_status = rt.inst_status
                    if strategy == "parallel" and not prestarted:
                        prestarted = True
                        _prestart_workers(rt.graph)
                if strategy == "sequential" and claims:
                    for claim in claims:    # at most one: run here, no thread
                        self._run_sequentially(claim, ran, max_steps)
                    continue
                for claim in claims:
                    t = threading.Thread(target=self._execute_in_thread,
                                         args=(claim, done, current_sink),
                                         name=f"chatflow-{claim.step}", daemon=True)
                    inflight[claim.step] = t
                    t.start()
                if claims:
                    continue
                if inflight:
                    reap(True)
                    continue
                if inst_status in (SUCCEEDED, FAILED, CANCELLED):
                    break
                if others and wait_for_others:
                    time.sleep(POLL_S)
                    continue
                break
        except BaseException as exc:
            if isinstance(exc, Exception):
                raise
            self.interrupted.set()
            interrupted = [instance_id, *CLAIMS.kill_owner(self.owner)]
            raise
        finally:
            with _ignoring_sigint(interrupted is not None):
                while inflight:  # stopped early: the running steps were killed
                    reap(True)
                if interrupted is not None:
                    self._record_interruptions(interrupted)
            instances.sink = previous
        if errors:
            raise errors[0]
        with instances.locked(instance_id) as rt:
            return instance_state(rt, ran)

    def _record_interruptions(self, instance_ids: list[str]) -> None:
        """After an interrupt, once every step thread has ended: each step
        left `running` by this engine is recorded as a crash recovery would
        (`step_interrupted`; pending again at level 100 or with retries left,
        else held in doubt), so `resume` goes on from there."""
        CLAIMS.forget_owner(self.owner)  # claimed but never started
        self.instances.cache.clear()  # drop changes an interrupt may have left uncommitted
        for iid in dict.fromkeys(instance_ids):
            with contextlib.suppress(ChatflowError), self.instances.locked(iid) as rt:
                if rt.running:
                    recover(self.instances.store, rt)
                    update_instance_status(rt)
                    self.instances.commit(rt)
        self.interrupted.clear()

    def _run_sequentially(self, claim: Claim, ran: list[str], max_steps: int | None) -> None:
        """A sequential flow's claimed step, run in the driving thread (a
        Ctrl-C reaches it there: its process group is killed, the step is
        recorded as interrupted); the commit of its result claims the next
        step, which runs next, and so on: one commit per step."""
        current: Claim | None = claim
        while current is not None:
            step = current.step
            chained = False

            def chain(rt: Instance, step: str = step) -> list[Claim]:
                nonlocal chained
                chained = True
                ran.append(step)
                budget = None if max_steps is None else max_steps - len(ran)
                if self.interrupted.is_set() or (budget is not None and budget <= 0) \
                        or rt.inst_status in (SUCCEEDED, FAILED, CANCELLED):
                    return []
                if not _claimed_as_is(rt):
                    # a wait or an inline step comes next: the result is
                    # committed on its own first, as when no step was chained
                    update_instance_status(rt)
                    self.instances.commit(rt)
                return self.resolver.advance(rt, budget, ran, 1)

            following = self.executor.execute(current, chain)
            if not chained:
                ran.append(step)
            current = following[0] if following else None

    def _execute_in_thread(self, claim: Claim, done: Done, sink: EventSink | None) -> None:
        self.instances.sink = sink
        error: BaseException | None = None
        try:
            self.executor.execute(claim)
        except BaseException as exc:  # re-raised by the driving thread
            error = exc
        finally:
            done.put((claim.step, error))


_INLINE_ACTIONS = frozenset({"set", "approve", "fail"})


def _claimed_as_is(rt: Instance) -> bool:
    """Whether the next eligible node is a step that is simply claimed: no
    group, condition, failed dependency, gate or inline action first."""
    nid = rt.sched.next_eligible()
    if nid is None or rt.graph.is_group(nid):
        return False
    node = rt.graph.nodes[nid]
    return (node.get("when") is None and node["action"]["type"] not in _INLINE_ACTIONS
            and rt.sched.blocking_dep(nid) is None and gate(rt, nid) is None)


@contextlib.contextmanager
def _ignoring_sigint(active: bool) -> Iterator[None]:
    """While cleaning up after a Ctrl-C, a second one must not cut the
    cleanup short (only the main thread may change signal handlers)."""
    import signal

    if not active or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _prestart_workers(graph: FlowGraph) -> None:
    """A `parallel` flow: start as many worker processes as its widest
    `parallel` group can run at once (its `max`, at most its number of
    shell/python members; 16 at most) before its steps need them."""
    from chatflow.runtime.step_actions import POOL, WORKER_ACTIONS

    want = 1
    for gid, members in graph.members.items():
        if graph.kind(gid) != "parallel":
            continue
        n = sum(1 for m in members
                if (graph.nodes[m].get("action") or {}).get("type") in WORKER_ACTIONS)
        limit = graph.nodes[gid].get("max")
        want = max(want, min(n, int(limit)) if limit else n)
    POOL.prestart(min(want, 16))
