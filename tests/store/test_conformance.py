"""The StateStore contract (`chatflow.testing.store_conformance`, the suite a
third-party backend runs too) on every built-in backend: file, sqlite, and
postgresql when CHATFLOW_TEST_PG_DSN is set."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import drop_store, make_store_url
from chatflow.runtime.store import StateStore
from chatflow.testing.store_conformance import StoreConformance


class TestFileStore(StoreConformance):
    def make_url(self, tmp: Path) -> str:
        return make_store_url("file", tmp)

    def lose_last_event(self, store: StateStore) -> None:
        hist = self.tmp / ".chatflow" / "instances" / "inst-1" / "history.ndjson"
        lines = hist.read_bytes().splitlines(keepends=True)
        hist.write_bytes(b"".join(lines[:-1]))      # the last commit, cut at a line boundary


class TestSQLiteStore(StoreConformance):
    def make_url(self, tmp: Path) -> str:
        return make_store_url("sqlite", tmp)

    def lose_last_event(self, store: StateStore) -> None:
        conn = store._connection(create=False)  # type: ignore[attr-defined]
        store._begin_write(conn)  # type: ignore[attr-defined]
        store._x(conn, "DELETE FROM history WHERE instance_id = ? AND seq = "  # type: ignore[attr-defined]
                       "(SELECT MAX(seq) FROM history WHERE instance_id = ?)",
                 ("inst-1", "inst-1"))
        store._commit_tx(conn)  # type: ignore[attr-defined]


class TestPostgresStore(TestSQLiteStore):
    pytestmark = pytest.mark.slow  # the fast loop keeps one SQL backend: SQLite

    def make_url(self, tmp: Path) -> str:
        return make_store_url("postgresql", tmp)

    def drop(self, url: str) -> None:
        drop_store(url)
