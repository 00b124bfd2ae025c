"""The SQL commit path: the cached fast path, its fallback, schema v3 in SQLite."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from chatflow.runtime.store import StateStore, open_store
from chatflow.runtime.store.sql_schema import MIGRATIONS
from chatflow.runtime.store.sqlite import SQLiteStore
from chatflow.testing.store_conformance import create, record_step


def test_stale_cache_falls_back_and_loses_nothing(
        store_factory: Callable[[], StateStore]) -> None:
    a, b = store_factory(), store_factory()
    create(a)
    record_step(a, "inst-1", 1)                 # a's cache is warm at rev 2
    assert a.load_state("inst-1").rev == 2
    record_step(b, "inst-1", 2)                 # rev 3, behind a's back
    assert record_step(a, "inst-1", 3) == 4     # no expected_rev: must not clobber rev 3
    for s in (a, b):
        st = s.load_status("inst-1")
        assert (st.rev, st.seq) == (4, 4)
        assert [e.seq for e in s.iter_history("inst-1")] == [1, 2, 3, 4]
        assert set(s.load_state("inst-1").steps) == {"s1", "s2", "s3"}
        assert s.load_state("inst-1").variables["n"] == 3


def test_load_status_sees_a_foreign_commit(store_factory: Callable[[], StateStore]) -> None:
    a, b = store_factory(), store_factory()
    create(a)
    record_step(a, "inst-1", 1)
    assert a.load_status("inst-1").current_steps == ("s1",)
    record_step(b, "inst-1", 2)
    st = a.load_status("inst-1")
    assert (st.rev, st.current_steps) == (3, ("s2",))


class _V2Store(SQLiteStore):
    """A store that writes the schema-2 layout (migration 3 left out)."""

    def _migration(self, v: int) -> tuple[str, ...]:
        return () if v == 3 else MIGRATIONS[v - 1]


def test_sqlite_v2_database_is_upgraded_keeping_its_data(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    old = _V2Store(db)
    create(old)
    for i in range(1, 4):
        record_step(old, "inst-1", i)
    old.close()
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM schema_migrations WHERE v = 3")
    conn.commit()
    assert "WITHOUT ROWID" not in conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'history'").fetchone()[0]
    conn.close()

    store = open_store(f"sqlite:///{db}")
    assert set(store.load_state("inst-1").steps) == {"s1", "s2", "s3"}
    assert [e.seq for e in store.iter_history("inst-1")] == [1, 2, 3, 4]
    record_step(store, "inst-1", 4)
    assert store.check("inst-1") == []
    store.close()
    conn = sqlite3.connect(db)
    tables = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    assert "WITHOUT ROWID" in tables["history"] and "WITHOUT ROWID" in tables["step_results"]
    assert "step_results_rev" not in {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert [r[0] for r in conn.execute("SELECT v FROM schema_migrations ORDER BY v")] == \
        list(range(1, len(MIGRATIONS) + 1))
    conn.close()


def test_sqlite_step_commit_writes_few_pages(tmp_path: Path) -> None:
    # A recorded step is one row in three tables: the WAL frames (pages) a
    # commit writes must stay near three, whatever was recorded before.
    db = tmp_path / "state.db"
    store = open_store(f"sqlite:///{db}")
    assert isinstance(store, SQLiteStore)
    create(store)
    for i in range(300):
        record_step(store, "inst-1", i)
    conn = store._connection(create=False)
    assert conn is not None
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    n = 300
    for i in range(300, 300 + n):
        record_step(store, "inst-1", i)
    frames = (os.path.getsize(f"{db}-wal") - 32) / (4096 + 24)
    store.close()
    assert frames / n < 5.5, f"{frames / n:.1f} pages per commit"
