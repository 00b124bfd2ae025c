"""Executing one claimed step with no lock held (`Executor`): its task
directory, the action run (with retries and back-off), the artifacts of a
blob-only backend, and the commit of its result — or its discarding, when
someone decided otherwise meanwhile."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from chatflow.runtime.claim import ActionOutcome, Claim
from chatflow.runtime.engine.accounting import QuotaAccount
from chatflow.runtime.engine.claims import CLAIMS
from chatflow.runtime.engine.completion import complete, set_stop
from chatflow.runtime.engine.instance import Instance
from chatflow.runtime.engine.instances import Instances
from chatflow.runtime.engine.lifecycle import update_instance_status
from chatflow.runtime.engine.recovery import Watcher
from chatflow.runtime.engine.resolve import (
    DEFAULT_LEASE_S,
    Resolver,
    event_view,
    render_claim,
    started,
    wait,
)
from chatflow.runtime.quota import step_spending
from chatflow.runtime.records import CANCELLED, FAILED, RUNNING, SUCCEEDED

MAX_ARTIFACT_BYTES = 64 * 1024 * 1024

Chain = Callable[[Instance], list[Claim]]
"""Claims the next steps in the commit of a step's result (see `execute`)."""

RunAction = Callable[[Claim, str], ActionOutcome]
"""Runs a claim's action (no lock held); the second argument is its task dir."""


class Executor:
    """Runs the claims of one engine, each in the thread that calls `execute`."""

    def __init__(self, instances: Instances, resolver: Resolver, quota: QuotaAccount,
                 watcher: Watcher, run_action: RunAction,
                 interrupted: threading.Event) -> None:
        self.instances = instances
        self.resolver = resolver
        self.quota = quota
        self.watcher = watcher
        self.run_action = run_action
        self.interrupted = interrupted

    def execute(self, claim: Claim, chain: Chain | None = None) -> list[Claim]:
        """Run a claimed step (no lock held), with its retries, then commit.
        `chain`, when given, is called under the lock just before the
        commit of the step's result (not when the result is discarded, the
        step pauses or is retried): the claims it makes go durable in that
        same commit and are returned, for the caller to run next."""
        self.watcher.watch(claim)
        try:
            while True:
                task_dir, temporary = self.task_dir(claim)
                try:
                    outcome = self.run_action(claim, task_dir)
                except Exception as exc:  # an adapter bug: the step fails, the run goes on
                    outcome = ActionOutcome(False, {"ok": False},
                                            f"{type(exc).__name__}: {exc}")
                if temporary:
                    self.upload_artifacts(claim, task_dir)
                if self.interrupted.is_set():  # killed by Ctrl-C: recorded by drive()
                    return []
                with self.instances.locked(claim.instance_id) as rt:
                    rec = rt.step(claim.step)
                    if rec.status != RUNNING or rec.owner != claim.owner:
                        # someone decided otherwise meanwhile (cancel, recovery)
                        rt.event("step_result_discarded", claim.step, attempt=claim.attempt,
                                 ok=outcome.ok)
                        self.instances.commit(rt)
                        return []
                    if outcome.pause:
                        wait(rt, claim.step, "child",
                             child_instance_id=claim.rendered.get("child_instance_id"))
                        update_instance_status(rt)
                        self.instances.commit(rt)
                        return []
                    retry = claim.options.get("retry")
                    if not outcome.ok and retry and claim.attempt <= int(retry["times"]) \
                            and rt.inst_status not in (CANCELLED, FAILED):
                        delay = int(retry.get("backoff_ms", 0)) * (2 ** (claim.attempt - 1))
                        rt.event("step_retrying", claim.step, attempt=claim.attempt,
                                 error=outcome.error, delay_ms=delay)
                        claim.attempt += 1
                        err = render_claim(rt, claim)
                        rt.put(replace(rec, attempts=claim.attempt,
                                       lease_until=time.time() + DEFAULT_LEASE_S))
                        started(rt, claim.step, attempt=claim.attempt,
                                owner=claim.owner, **event_view(claim.rendered))
                        self.instances.commit(rt)
                        if err is None:
                            time.sleep(delay / 1000.0)
                            continue
                        outcome = ActionOutcome(False, {"ok": False}, err)
                    status = SUCCEEDED if outcome.ok else FAILED
                    spent = self.quota.account(rt, step_spending(outcome.tokens,
                                                                 outcome.cpu_s))
                    complete(rt, claim.step, status, outcome.fields,
                             attempts=claim.attempt, error=outcome.error, spent=spent)
                    if outcome.depth_exceeded:
                        rt.event("max_depth_exceeded", claim.step, error=outcome.error,
                                 depth=outcome.depth, limit=outcome.limit)
                        set_stop(rt, "max_depth", outcome.error or "max_depth exceeded")
                    # settle groups / the instance in this commit
                    self.resolver.advance(rt, 0, [], 0)
                    claims = chain(rt) if chain is not None else []
                    update_instance_status(rt)
                    self.instances.commit(rt)
                    return claims
        finally:
            CLAIMS.remove(claim)
            self.watcher.unwatch(claim)

    def task_dir(self, claim: Claim) -> tuple[str, bool]:
        """Where the step writes stdout/stderr/artifacts, and whether it is a
        scratch directory to upload (backends that keep blobs only)."""
        path = self.instances.store.artifact_dir(claim.instance_id, claim.step)
        if path is not None:
            return str(path), False
        return _SCRATCH.take(), True

    def upload_artifacts(self, claim: Claim, task_dir: str) -> None:
        root = Path(task_dir)
        try:
            # not flushed on their own: the commit of the step's result that
            # follows makes them durable
            self.instances.store.put_artifacts(
                claim.instance_id, claim.step,
                [(f.relative_to(root).as_posix(), f.read_bytes())
                 for f in sorted(root.rglob("*"))
                 if f.is_file() and f.stat().st_size <= MAX_ARTIFACT_BYTES],
                durable=False)
        finally:
            _SCRATCH.give_back(task_dir)


class _ScratchDirs:
    """Empty temporary task directories, reused from step to step (making
    and removing a directory per step costs more than the step's commit);
    the ones left are removed when the process exits."""

    def __init__(self) -> None:
        self.free: list[str] = []
        self.made: set[str] = set()
        self.lock = threading.Lock()

    def take(self) -> str:
        with self.lock:
            if self.free:
                return self.free.pop()
        import tempfile

        path = tempfile.mkdtemp(prefix="chatflow-task-")
        with self.lock:
            if not self.made:
                import atexit

                atexit.register(self.remove_all)
            self.made.add(path)
        return path

    def give_back(self, path: str) -> None:
        import shutil

        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)
        except OSError:
            shutil.rmtree(path, ignore_errors=True)
            with self.lock:
                self.made.discard(path)
            return
        with self.lock:
            self.free.append(path)

    def remove_all(self) -> None:
        import shutil

        with self.lock:
            made, self.made, self.free = self.made, set(), []
        for path in made:
            shutil.rmtree(path, ignore_errors=True)


_SCRATCH = _ScratchDirs()
