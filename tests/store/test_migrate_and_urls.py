"""`migrate_store` on the checked-in v1.0 tree, SQL schema setup, state URLs."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chatflow.commands import exit_code_for
from chatflow.runtime.store import (
    StoreError,
    StoreFormatError,
    StoreScheme,
    StoreURLError,
    migrate_store,
    normalize_url,
    open_store,
    parse_state_url,
    register_scheme,
)
from chatflow.runtime.store.file import FileStore
from chatflow.runtime.store.sql_schema import MIGRATIONS
from chatflow.runtime.store.sqlite import SQLiteStore

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "v1_0_store"


@pytest.fixture
def v1_tree(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "proj")
    return tmp_path / "proj" / ".chatflow"


def test_v1_store_must_be_migrated_first(v1_tree: Path) -> None:
    with pytest.raises(StoreFormatError, match="chatflow migrate"):
        open_store(f"file:{v1_tree}")


def test_migrate_v1_fixture(v1_tree: Path) -> None:
    url = f"file:{v1_tree}"
    report = migrate_store(url)
    assert (report.from_format, report.to_format) == (1, 2)
    assert sorted(report.migrated) == ["bugfix-0002", "feature-0001"]
    assert report.backup and Path(report.backup).name.startswith(".chatflow.bak-")
    backup = Path(report.backup)
    assert "history" in json.loads((backup / "instances/feature-0001.json").read_text())
    store = open_store(url)
    [a, b] = store.list_instances("F-42")
    assert (a.instance_id, a.status, a.progress, a.current_steps, a.automation) == (
        "feature-0001", "waiting_approval", 0.5, ("review",), 60)
    assert (b.instance_id, b.status) == ("bugfix-0002", "succeeded")
    state = store.load_state("feature-0001")
    assert state.steps["build"].attempts == 2 and state.inputs["spec"] == "add a login page"
    assert state.steps["review"].status == "waiting_approval"
    events = list(store.iter_history("feature-0001"))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[0].ts == "2024-03-01T09:00:00.000000Z"
    assert store.get_artifact("feature-0001", "plan", "stdout") == b"1. form 2. route\n"
    assert store.check("feature-0001") == [] and store.check("bugfix-0002") == []
    # the migrated instance keeps working
    with store.transaction("feature-0001", expected_rev=1) as tx:
        tx.append("step_approved", step="review")
    assert tx.result is not None and tx.result.seq == 7
    # idempotent
    again = migrate_store(url)
    assert again.migrated == [] and again.backup is None and not again.changed
    assert len(list(v1_tree.parent.glob(".chatflow.bak-*"))) == 1


def test_migrate_resumes_after_interruption(v1_tree: Path) -> None:
    from chatflow.runtime.store.file import FileStore
    from chatflow.runtime.store.migrate import _convert_instance

    store = FileStore(v1_tree, check_format=False)
    path = v1_tree / "instances/bugfix-0002.json"
    _convert_instance(store, path, json.loads(path.read_text()))  # half done, no store.json
    report = migrate_store(f"file:{v1_tree}", backup=False)
    assert report.migrated == ["feature-0001"] and report.skipped == ["bugfix-0002"]
    assert open_store(f"file:{v1_tree}").load_status("bugfix-0002").status == "succeeded"


def test_migrate_refuses_newer_or_unknown_formats(tmp_path: Path, v1_tree: Path) -> None:
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "store.json").write_text('{"format": 99}')
    with pytest.raises(StoreFormatError, match="99"):
        migrate_store(f"file:{newer}")
    with pytest.raises(StoreFormatError, match="newer"):
        open_store(f"file:{newer}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer", "proj"]
    (v1_tree / "instances/strange.json").write_text('{"hello": 1}')
    before = sorted(p.name for p in v1_tree.rglob("*"))
    with pytest.raises(StoreFormatError, match=r"strange\.json"):
        migrate_store(f"file:{v1_tree}")
    assert sorted(p.name for p in v1_tree.rglob("*")) == before


def test_sqlite_setup_is_idempotent_and_recorded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = open_store(url)
    assert isinstance(store, SQLiteStore)
    store.setup()
    store.setup()
    store.close()
    conn = sqlite3.connect(tmp_path / "state.db")
    assert [r[0] for r in conn.execute("SELECT v FROM schema_migrations ORDER BY v")] == \
        list(range(1, len(MIGRATIONS) + 1))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    report = migrate_store(url)
    assert report.from_format == report.to_format == len(MIGRATIONS) and not report.changed


def test_sqlite_migrates_an_older_schema(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE schema_migrations (v INTEGER PRIMARY KEY, applied_at TEXT)")
    for stmt in MIGRATIONS[0]:
        conn.execute(stmt)
    conn.execute("INSERT INTO schema_migrations VALUES (1, 'then')")
    conn.commit()
    conn.close()
    report = migrate_store(f"sqlite:///{db}")
    assert (report.from_format, report.to_format) == (1, len(MIGRATIONS))
    assert report.backup and Path(report.backup).exists()


@pytest.mark.parametrize(("url", "kind", "where"), [
    ("file:.chatflow", "file", ".chatflow"),
    ("file:///tmp/x/.chatflow", "file", "/tmp/x/.chatflow"),
    (".chatflow", "file", ".chatflow"),
    ("/abs/state", "file", "/abs/state"),
    ("sqlite:///state.db", "sqlite", "state.db"),
    ("sqlite:////tmp/state.db", "sqlite", "/tmp/state.db"),
    ("postgresql://u@localhost/db", "postgresql", "postgresql://u@localhost/db"),
    ("postgres://localhost/db", "postgresql", "postgres://localhost/db"),
])
def test_parse_state_url(url: str, kind: str, where: str) -> None:
    assert parse_state_url(url) == (kind, where)


@pytest.mark.parametrize("url", ["", "redis://x", "sqlite:state.db", "sqlite://",
                                 "sqlite:///:memory:", "file://otherhost/x", "file:",
                                 "postgresql:db"])
def test_bad_state_urls(url: str) -> None:
    with pytest.raises(StoreURLError) as err:
        open_store(url)
    assert exit_code_for(err.value) == 2
    assert "expected file:PATH" in str(err.value)


# ---------------------------------------------------------------------------- the scheme registry


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The registry as a new process has it (plugins unread), restored afterwards."""
    from chatflow.runtime.store import registry

    monkeypatch.setattr(registry, "_schemes", dict(registry._schemes))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    return registry


def _scheme(kind: str = "demo") -> StoreScheme:
    """A plugin backend: the file store under another name."""
    return StoreScheme(
        kind=kind, schemes=(kind,), usage=f"{kind}:PATH",
        parse=lambda url, rest: rest,
        open=lambda location, url: FileStore(Path(location), url),
        normalize=lambda url, base: f"{kind}:{base / url.partition(':')[2]}")


def test_a_plugin_scheme_comes_through_the_entry_point_group(
        fresh_registry: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.metadata as md

    class EP:
        name, value = "demo", "chatflow_demo:SCHEME"

        def load(self) -> Any:
            return _scheme

    groups: list[str] = []

    def entry_points(group: str) -> list[EP]:
        groups.append(group)
        return [EP()]

    monkeypatch.setattr(md, "entry_points", entry_points)
    assert parse_state_url("file:x") == ("file", "x")
    assert groups == []  # built-in schemes never read the entry points
    url = normalize_url("demo:st", tmp_path)
    assert url == f"demo:{tmp_path / 'st'}" and groups == ["chatflow.stores"]
    store = open_store(url)
    assert isinstance(store, FileStore) and store.root == tmp_path / "st"
    report = migrate_store(url)  # no migrate of its own: setup() and schema_version()
    assert report.from_format == report.to_format and not report.changed
    with pytest.raises(StoreURLError, match="demo:PATH"):
        open_store("nosuch://x")
    assert groups == ["chatflow.stores"]  # read once


def test_a_plugin_cannot_replace_a_builtin_scheme_and_a_broken_one_is_named(
        fresh_registry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata as md

    with pytest.raises(StoreError, match="cannot replace the built-in `sqlite:`"):
        register_scheme(_scheme("sqlite"))

    class Broken:
        name, value = "bad", "chatflow_bad:SCHEME"

        def load(self) -> Any:
            raise ImportError("No module named 'chatflow_bad'")

    monkeypatch.setattr(md, "entry_points", lambda group: [Broken()])
    with pytest.raises(StoreError, match=r"plugin 'bad' .* failed to load: ImportError"):
        open_store("other://x")
