"""The `postgresql://` backend: the relational model of `sql.py` over psycopg 3.

A commit is one transaction that starts by locking the instance row
(`SELECT ... FOR UPDATE`), so concurrent committers queue per instance.  The
per-instance lock is a session advisory lock held on a dedicated connection:
the server releases it when the holder's connection dies.  An optional
`schema=NAME` query parameter puts the tables in their own schema (created
if missing), which the tests use for isolation.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from chatflow.runtime.store.base import (
    InstanceNotFound,
    LockTimeout,
    StoreError,
    StoreURLError,
    check_instance_id,
)
from chatflow.runtime.store.sql import SQLStore

_POLL_S = 0.05


def split_dsn(url: str) -> tuple[str, str | None]:
    """(DSN for psycopg, schema or None): `schema` is ours, not libpq's."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = [(k, v) for k, v in query if k != "schema"]
    scheme = "postgresql" if parts.scheme == "postgres" else parts.scheme
    dsn = urlunsplit((scheme, parts.netloc, parts.path, urlencode(rest), parts.fragment))
    if schema is not None and not schema.replace("_", "").isalnum():
        raise StoreURLError(f"bad schema name {schema!r} in {url!r}: letters, digits and '_'")
    return dsn, schema


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError("the postgresql:// state store needs psycopg 3: "
                         "pip install 'chatflow[postgres]'") from None
    return psycopg


def drop_schema(url: str) -> None:
    """Drop the schema named in `url` (test clean-up)."""
    dsn, schema = split_dsn(url)
    if schema is None:
        return
    with _psycopg().connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class PostgresStore(SQLStore):
    kind = "postgresql"
    paramstyle_qmark = False

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.dsn, self.schema = split_dsn(url)
        self._conn: Any | None = None
        self._lock_conns: dict[tuple[str, int], tuple[Any, int]] = {}
        self._lock_mutex = threading.Lock()

    def _where(self) -> str:
        parts = urlsplit(self.dsn)
        host = parts.hostname or "localhost"
        return f"postgresql://{host}{parts.path}" + (f" schema {self.schema}"
                                                     if self.schema else "")

    def _connect(self) -> Any:
        psycopg = _psycopg()
        try:
            conn = psycopg.connect(self.dsn, autocommit=True)
        except psycopg.Error as e:
            raise StoreError(f"cannot connect to {self._where()}: {e}".strip()) from None
        if self.schema:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            conn.execute(f'SET search_path TO "{self.schema}"')
        return conn

    def _connection(self, create: bool) -> Any | None:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
            self._ready = False
        return self._conn

    def _read_conn(self) -> Any | None:
        conn = self._connection(create=False)
        if not self._ready:
            self.setup()
        return conn

    def _begin_write(self, conn: Any) -> None:
        conn.execute("BEGIN")

    def _x(self, conn: Any, sql: str, params: Any = ()) -> Any:
        if sql.startswith("SELECT rev, status_json FROM instances"):
            sql += " FOR UPDATE"       # serialise committers of one instance
        return conn.execute(self._sql(sql), params)

    def _xmany(self, conn: Any, sql: str, rows: Any) -> None:
        with conn.cursor() as cur:
            cur.executemany(self._sql(sql), rows)

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s").replace("LENGTH(data)", "OCTET_LENGTH(data)")

    def _migrate(self, conn: Any) -> None:
        # One migrator at a time across processes.
        conn.execute("SELECT pg_advisory_lock(%s)", (_key("chatflow-schema"),))
        try:
            super()._migrate(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_key("chatflow-schema"),))

    def _reset_after_error(self, conn: Any) -> None:
        conn.execute("ROLLBACK")

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._ready = False
            self._cache.clear()
        with self._lock_mutex:
            for c, _ in self._lock_conns.values():
                c.close()
            self._lock_conns.clear()

    def lock(self, instance_id: str,
             timeout: float | None = None) -> AbstractContextManager[None]:
        check_instance_id(instance_id)
        if not self.exists(instance_id):
            raise InstanceNotFound(instance_id, self._where())
        return self._lock_cm(instance_id, timeout)

    @contextmanager
    def _lock_cm(self, instance_id: str, timeout: float | None) -> Iterator[None]:
        me = (instance_id, threading.get_ident())
        with self._lock_mutex:
            held = self._lock_conns.get(me)
            if held is not None:            # re-entrant within one thread
                self._lock_conns[me] = (held[0], held[1] + 1)
        if held is None:
            conn = self._connect()
            key = _key(f"{self.schema or ''}:{instance_id}")
            deadline = None if timeout is None else time.monotonic() + timeout
            while not conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
                if deadline is not None and time.monotonic() >= deadline:
                    conn.close()
                    raise LockTimeout(instance_id, timeout)
                time.sleep(_POLL_S)
            with self._lock_mutex:
                self._lock_conns[me] = (conn, 1)
        try:
            yield
        finally:
            with self._lock_mutex:
                conn, depth = self._lock_conns[me]
                if depth > 1:
                    self._lock_conns[me] = (conn, depth - 1)
                else:
                    del self._lock_conns[me]
                    conn.close()            # ends the session: releases the lock


def _key(text: str) -> int:
    """A signed 64-bit advisory-lock key for a name."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)
