"""Durable state stores: `open_store(url)` picks the backend for a state URL.

URLs: `file:PATH` (or a bare path; `file:.chatflow` is the default),
`sqlite:///relative.db` / `sqlite:////absolute.db`, `postgresql://...`, and
the schemes of installed plugins (entry-point group `chatflow.stores`); one
registry of schemes (`registry.py`) answers for all of them.
The contract every backend keeps is `base.StateStore` (docs/state-stores.md).
"""

from __future__ import annotations

from chatflow.runtime.store.base import (
    ConflictError,
    InstanceExists,
    InstanceNotFound,
    LockTimeout,
    StateStore,
    StoreCorruption,
    StoreError,
    StoreFormatError,
    StoreURLError,
    Transaction,
    default_owner,
    new_instance_id,
)
from chatflow.runtime.store.records import (
    FORMAT_VERSION,
    INSTANCE_STATUSES,
    TERMINAL_STATUSES,
    ArtifactInfo,
    Change,
    HistoryEvent,
    IRRef,
    MigrationReport,
    NewEvent,
    Problem,
    RepairReport,
    StateRecord,
    StatusRecord,
    StepRecord,
    ir_sha256,
    utc_now,
)
from chatflow.runtime.store.registry import (
    StoreScheme,
    migrate_url,
    normalize_url,
    open_url,
    parse_url,
    register_scheme,
)

DEFAULT_STATE_URL = "file:.chatflow"

__all__ = [
    "DEFAULT_STATE_URL",
    "FORMAT_VERSION",
    "INSTANCE_STATUSES",
    "TERMINAL_STATUSES",
    "ArtifactInfo",
    "Change",
    "ConflictError",
    "HistoryEvent",
    "IRRef",
    "InstanceExists",
    "InstanceNotFound",
    "LockTimeout",
    "MigrationReport",
    "NewEvent",
    "Problem",
    "RepairReport",
    "StateRecord",
    "StateStore",
    "StatusRecord",
    "StepRecord",
    "StoreCorruption",
    "StoreError",
    "StoreFormatError",
    "StoreScheme",
    "StoreURLError",
    "Transaction",
    "default_owner",
    "ir_sha256",
    "migrate_store",
    "new_instance_id",
    "normalize_url",
    "open_store",
    "parse_state_url",
    "register_scheme",
    "utc_now",
]

def parse_state_url(url: str) -> tuple[str, str]:
    """(backend kind, location): a directory, a database path or a DSN."""
    scheme, location = parse_url(url)
    return scheme.kind, location


def open_store(url: str = DEFAULT_STATE_URL) -> StateStore:
    """The store for a state URL.  Nothing is created until the first write."""
    return open_url(url)


def migrate_store(url: str, backup: bool = True) -> MigrationReport:
    """Upgrade the store at `url` to the current format (`chatflow migrate`)."""
    return migrate_url(url, backup=backup)
