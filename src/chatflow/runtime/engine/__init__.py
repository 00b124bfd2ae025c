"""The durable workflow engine: runs IR flows against a state store.

Works on IR dicts only (no compiling here). One `Engine` wraps one
`StateStore`. Every state transition is one `Change` committed under the
store's per-instance lock; a step is committed `running` (owner + lease)
before its side effects start, and long steps run *outside* the lock (claim
under the lock, run, commit under the lock), so `status` is never blocked.

Execution semantics follow docs/language.md §8; docs/runtime.md describes the
events, the crash-recovery rules, the parallel strategies, sub-flows and
quotas, and lists this package's modules (one job each; `core.Engine`
coordinates them). This module only re-exports the package's public names.
"""

from __future__ import annotations

from chatflow.runtime.claim import ActionOutcome, Claim
from chatflow.runtime.engine.claims import CLAIMS, ClaimRegistry
from chatflow.runtime.engine.core import DEFAULT_MAX_DEPTH, ActionRunner, Engine
from chatflow.runtime.engine.driver import POLL_S
from chatflow.runtime.engine.execute import MAX_ARTIFACT_BYTES
from chatflow.runtime.engine.inputs import bind_inputs, new_instance_id
from chatflow.runtime.engine.instance import Instance, Scope, Unpinned
from chatflow.runtime.engine.instances import EventSink
from chatflow.runtime.engine.recovery import WATCH_S
from chatflow.runtime.engine.resolve import DEFAULT_LEASE_S

__all__ = [
    "CLAIMS",
    "DEFAULT_LEASE_S",
    "DEFAULT_MAX_DEPTH",
    "MAX_ARTIFACT_BYTES",
    "POLL_S",
    "WATCH_S",
    "ActionOutcome",
    "ActionRunner",
    "Claim",
    "ClaimRegistry",
    "Engine",
    "EventSink",
    "Instance",
    "Scope",
    "Unpinned",
    "bind_inputs",
    "new_instance_id",
]
