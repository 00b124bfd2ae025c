"""The file backend's listing cache (`.indexes/list_cache.json`, issue 9):
a listing from a fresh process reads the cache, yet never shows a status
older than the files on disk, a removed instance, or hides damage; a damaged
cache is ignored and rewritten."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from chatflow.runtime.store import Change, open_store
from chatflow.runtime.store.file import FileStore
from chatflow.testing.store_conformance import create, record_step


def fresh(root: Path) -> FileStore:
    """A new store object: no in-process cache, as in a new `chatflow list`."""
    s = open_store(f"file:{root}")
    assert isinstance(s, FileStore)
    return s


def cache_file(root: Path) -> Path:
    return root / ".indexes" / "list_cache.json"


def listed(root: Path) -> dict[str, str]:
    return {s.instance_id: s.status for s in fresh(root).list_instances()}


def test_listing_writes_the_cache_and_follows_later_commits(tmp_path: Path) -> None:
    root = tmp_path / ".chatflow"
    fs = fresh(root)
    create(fs, "a")
    create(fs, "b", feature="F-2")
    assert listed(root) == {"a": "running", "b": "running"}
    assert set(json.loads(cache_file(root).read_text())["instances"]) == {"a", "b"}
    record_step(fs, "a", 1)
    fs.commit("a", Change(status={"status": "succeeded", "progress": 1.0}))
    assert listed(root) == {"a": "succeeded", "b": "running"}
    assert [s.instance_id for s in fresh(root).list_instances("F-2")] == ["b"]
    shutil.rmtree(root / "instances" / "b")
    (root / "instances" / "b.json").unlink()
    assert listed(root) == {"a": "succeeded"}
    assert set(json.loads(cache_file(root).read_text())["instances"]) == {"a"}


def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path: Path) -> None:
    root = tmp_path / ".chatflow"
    create(fresh(root), "a")
    listed(root)
    for junk in ("{not json", '{"instances": {"a": [[1, 2], {}]}}', "[]"):
        cache_file(root).write_text(junk)
        assert listed(root) == {"a": "running"}
        assert "a" in json.loads(cache_file(root).read_text())["instances"]


def test_a_cached_instance_whose_journal_is_damaged_is_reported(tmp_path: Path) -> None:
    root = tmp_path / ".chatflow"
    fs = fresh(root)
    create(fs, "a")
    for i in range(1, 4):
        record_step(fs, "a", i)
    listed(root)
    hist = root / "instances" / "a" / "history.ndjson"
    hist.write_bytes(b"".join(hist.read_bytes().splitlines(keepends=True)[:-2]))
    inv = fresh(root).inventory()
    assert "a" in inv.damaged
    assert "a" not in json.loads(cache_file(root).read_text())["instances"]
