"""Durable state stores: `open_store(url)` picks the backend for a state URL.

URLs: `file:PATH` (or a bare path; `file:.chatflow` is the default),
`sqlite:///relative.db` / `sqlite:////absolute.db`, `postgresql://...`.
The contract every backend keeps is `base.StateStore` (docs/state-stores.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

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
    "StoreURLError",
    "Transaction",
    "default_owner",
    "ir_sha256",
    "migrate_store",
    "new_instance_id",
    "open_store",
    "parse_state_url",
    "utc_now",
]

_HELP = ("expected file:PATH, sqlite:///RELATIVE.db, sqlite:////ABSOLUTE.db "
         "or postgresql://USER@HOST/DB")


def parse_state_url(url: str) -> tuple[str, str]:
    """(backend kind, location): a directory, a database path or a DSN."""
    if not isinstance(url, str) or not url.strip():
        raise StoreURLError(f"empty state URL; {_HELP}")
    url = url.strip()
    scheme, sep, rest = url.partition(":")
    if not sep or len(scheme) == 1 or os.sep in scheme or "." in scheme:
        # a bare path (or a Windows drive letter)
        return "file", url
    scheme = scheme.lower()
    if scheme == "file":
        if rest.startswith("//"):
            parts = urlsplit(url)
            if parts.netloc not in ("", "localhost"):
                raise StoreURLError(f"file URL {url!r} names a host; {_HELP}")
            path = unquote(parts.path)
        else:
            path = unquote(rest)
        if not path:
            raise StoreURLError(f"file URL {url!r} has no path; {_HELP}")
        return "file", path
    if scheme == "sqlite":
        if not rest.startswith("///") or len(rest) <= 3:
            raise StoreURLError(f"bad SQLite URL {url!r}; {_HELP}")
        path = unquote(rest[3:])
        if path in (":memory:",) or path.startswith("?"):
            raise StoreURLError(f"SQLite URL {url!r}: an in-memory database cannot be "
                                f"shared between chatflow processes; {_HELP}")
        return "sqlite", path
    if scheme in ("postgresql", "postgres"):
        if not rest.startswith("//"):
            raise StoreURLError(f"bad PostgreSQL URL {url!r}; {_HELP}")
        return "postgresql", url
    raise StoreURLError(f"unknown state URL scheme {scheme!r} in {url!r}; {_HELP}")


def open_store(url: str = DEFAULT_STATE_URL) -> StateStore:
    """The store for a state URL.  Nothing is created until the first write."""
    kind, location = parse_state_url(url)
    if kind == "file":
        from chatflow.runtime.store.file import FileStore
        return FileStore(Path(location), url)
    if kind == "sqlite":
        from chatflow.runtime.store.sqlite import SQLiteStore
        return SQLiteStore(Path(location), url)
    from chatflow.runtime.store.postgres import PostgresStore
    return PostgresStore(location)


def migrate_store(url: str, backup: bool = True) -> MigrationReport:
    """Upgrade the store at `url` to the current format (`chatflow migrate`)."""
    from chatflow.runtime.store.migrate import migrate_store as _migrate
    return _migrate(url, backup=backup)
