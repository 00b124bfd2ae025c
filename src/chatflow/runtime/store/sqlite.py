"""The `sqlite:///path.db` backend: the relational model of `sql.py` in SQLite.

WAL mode with `synchronous=FULL` (a committed transition survives power
loss), one `BEGIN IMMEDIATE` transaction per transition, `busy_timeout` so
concurrent processes queue instead of failing.  The per-instance lock is a
kernel file lock in `<db>-locks/<id>.lock`: unlike a lock row, the kernel
releases it when the holder dies (even by SIGKILL), and holding it never
blocks writers of other instances.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from chatflow.runtime.store.base import InstanceNotFound, LockTimeout, StoreError, check_instance_id
from chatflow.runtime.store.flock import Flocks, FlockTimeout
from chatflow.runtime.store.sql import SQLStore

BUSY_TIMEOUT_MS = 60_000

# Schema migration 3 in SQLite: step results and history become clustered
# (WITHOUT ROWID) tables keyed by their primary key, so recording a step
# touches one B-tree page per table instead of a table page plus a key index
# page (about 3 WAL frames per commit instead of 7).
_V3 = tuple(
    stmt
    for table, cols, key in (
        ("step_results", "instance_id TEXT NOT NULL, step TEXT NOT NULL, "
                         "rev INTEGER NOT NULL, record TEXT NOT NULL", "instance_id, step"),
        ("history", "instance_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, "
                    "ts TEXT NOT NULL, step TEXT, data TEXT NOT NULL", "instance_id, seq"),
    )
    for stmt in (
        f"CREATE TABLE {table}_v3 ({cols}, PRIMARY KEY ({key})) WITHOUT ROWID",
        f"INSERT INTO {table}_v3 SELECT * FROM {table}",
        f"DROP TABLE {table}",
        f"ALTER TABLE {table}_v3 RENAME TO {table}",
    )
)


class SQLiteStore(SQLStore):
    kind = "sqlite"

    def __init__(self, path: str | Path, url: str | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.url = url or f"sqlite:///{self.path}"
        self._conn: sqlite3.Connection | None = None
        self._pid_conn: int = 0
        self._flocks = Flocks()
        self._flocks_pid = os.getpid()
        self._lock_dir: str | None = None
        self._known: set[str] = set()

    def _where(self) -> str:
        return str(self.path)

    def _connection(self, create: bool) -> Any | None:
        if self._conn is not None and self._pid_conn == os.getpid():
            return self._conn
        self._conn = None
        self._ready = False
        if not create and not self.path.exists():
            return None
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(str(self.path), isolation_level=None,
                                   check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch SQLite to WAL mode ({mode})")
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a usable SQLite database ({e})") from None
        self._conn = conn
        self._pid_conn = os.getpid()
        return conn

    def _begin_write(self, conn: Any) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def _begin_lazy_write(self, conn: Any) -> Callable[[], None] | None:
        # WAL + synchronous=NORMAL: the commit is not fsync'd; the next FULL
        # commit fsyncs the WAL, and with it every frame before its own.
        conn.execute("PRAGMA synchronous = NORMAL")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            conn.execute("PRAGMA synchronous = FULL")
            raise
        return lambda: conn.execute("PRAGMA synchronous = FULL")

    def _migration(self, v: int) -> tuple[str, ...]:
        return _V3 if v == 3 else super()._migration(v)

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._ready = False
            self._cache.clear()

    def lock(self, instance_id: str,
             timeout: float | None = None) -> AbstractContextManager[None]:
        check_instance_id(instance_id)
        if instance_id not in self._known and not self.exists(instance_id):
            raise InstanceNotFound(instance_id, self._where())
        self._known.add(instance_id)    # instances are never deleted
        return self._lock_cm(instance_id, timeout)

    @contextmanager
    def _lock_cm(self, instance_id: str, timeout: float | None) -> Iterator[None]:
        if self._flocks_pid != os.getpid():     # what the parent held is not ours
            self._flocks, self._flocks_pid = Flocks(), os.getpid()
        if self._lock_dir is None:
            d = self.path.with_name(self.path.name + "-locks")
            d.mkdir(exist_ok=True)
            self._lock_dir = str(d)
        try:
            cm = self._flocks.hold(f"{self._lock_dir}/{instance_id}.lock", timeout)
            cm.__enter__()
        except FlockTimeout:
            raise LockTimeout(instance_id, timeout) from None
        try:
            yield
        finally:
            cm.__exit__(None, None, None)
