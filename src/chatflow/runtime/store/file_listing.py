"""The `file:` backend's listing cache: `.indexes/list_cache.json` keeps,
per instance, the status `list` last read and the identity of the files it
was read from (the journal's inode and size; the status file's inode, size
and modification time). A listing stats those two files per instance and
reads an instance again only when they changed, so `chatflow list` costs
two `stat`s per unchanged instance instead of opening and parsing its files.

It is a cache, never the truth: an entry is used only when both files still
match it, an instance whose files were damaged is never cached, a cache that
cannot be read is ignored (and rewritten), and writing it is best effort
(a read-only store still lists). Nothing on the commit path touches it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatflow.runtime.store.atomic import atomic_write
from chatflow.runtime.store.base import (
    InstanceNotFound,
    StoreCorruption,
    StoreError,
    check_instance_id,
    store_io_error,
)
from chatflow.runtime.store.file_index import read_index
from chatflow.runtime.store.records import Inventory, Problem, StatusRecord

if TYPE_CHECKING:
    from chatflow.runtime.store.file import FileStore

__all__ = ["ListCache", "all_ids", "file_inventory", "file_key"]

Key = tuple[int, int, int, int, int]


def file_key(history: str, status: str) -> Key | None:
    """What identifies an instance's listed status on disk; None when its
    journal cannot be stat'ed (gone or damaged: the slow path says what)."""
    try:
        h = os.stat(history)
    except OSError:
        return None
    try:
        s = os.stat(status)
    except FileNotFoundError:
        return (h.st_ino, h.st_size, 0, 0, 0)
    except OSError:
        return None
    return (h.st_ino, h.st_size, s.st_ino, s.st_size, s.st_mtime_ns)


class ListCache:
    """instance id → (key, status JSON), read from and written to `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # id -> [key as a list, status JSON]; checked when used, not here
        self.entries: dict[str, Any] = {}
        self.changed = False
        try:
            doc = json.loads(path.read_bytes())
        except (OSError, ValueError):
            self.changed = path.exists()  # damaged: rewrite it
            return
        raw = doc.get("instances") if isinstance(doc, dict) else None
        if isinstance(raw, dict):
            self.entries = raw
        else:
            self.changed = True

    def get(self, instance_id: str, key: Key | None) -> dict[str, Any] | None:
        """The cached status JSON when the files still match `key`."""
        if key is None:
            return None
        item = self.entries.get(instance_id)
        if isinstance(item, list) and len(item) == 2 and item[0] == list(key) \
                and isinstance(item[1], dict):
            return item[1]
        return None

    def put(self, instance_id: str, key: Key | None, status: dict[str, Any]) -> None:
        if key is None:
            self.drop(instance_id)
            return
        item = [list(key), status]
        if self.entries.get(instance_id) != item:
            self.entries[instance_id] = item
            self.changed = True

    def drop(self, instance_id: str) -> None:
        if self.entries.pop(instance_id, None) is not None:
            self.changed = True

    def keep_only(self, ids: set[str]) -> None:
        """Forget instances that are no longer there."""
        for iid in [i for i in self.entries if i not in ids]:
            self.drop(iid)

    def save(self) -> None:
        """Write it back if it changed (atomically, without fsync: a cache
        lost in a power cut is rebuilt by the next listing)."""
        if not self.changed:
            return
        doc = {"instances": self.entries}
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps(doc, separators=(",", ":")).encode("utf-8"),
                         durable=False)
        self.changed = False


def file_inventory(self: FileStore, feature_id: str | None = None) -> Inventory:
    """`FileStore.inventory`: every instance's status (of one feature), the
    unchanged ones from the cache."""
    cache = ListCache(self.root / ".indexes" / "list_cache.json")
    ids: set[str]
    if feature_id is not None:
        index = read_index(self._index_path())
        ids = set(index.get(feature_id, [])) if index is not None \
            else all_ids(self._instances(), cache.entries)
    else:
        ids = all_ids(self._instances(), cache.entries)
        cache.keep_only(ids)
    out = Inventory()
    inst = str(self._instances())  # plain strings: no pathlib per instance
    for iid in sorted(ids):
        key = file_key(f"{inst}/{iid}/history.ndjson", f"{inst}/{iid}.json")
        hit = cache.get(iid, key) if iid not in self._cache else None
        if hit is not None:
            try:
                status = StatusRecord.from_json(hit)
            except (ValueError, KeyError, TypeError, AttributeError):
                cache.drop(iid)
            else:
                if feature_id is None or status.feature_id == feature_id:
                    out.statuses.append(status)
                continue
        try:
            with self._mutex:
                entry = self._refresh(iid, need_state=False)
        except InstanceNotFound:
            cache.drop(iid)
            continue
        except StoreCorruption as exc:
            out.damaged[iid] = exc.problems
            cache.drop(iid)
            continue
        except OSError as exc:
            out.damaged[iid] = [Problem(iid, str(exc.filename or self.instance_dir(iid)),
                                        "unreadable", str(store_io_error(exc)),
                                        repairable=False)]
            cache.drop(iid)
            continue
        if entry.damage is None:
            cache.put(iid, key, entry.status.to_json())
        else:
            cache.drop(iid)
        if feature_id is not None and entry.status.feature_id != feature_id:
            continue
        out.statuses.append(entry.status)
        if entry.damage is not None:
            out.damaged[iid] = [entry.damage]
    out.statuses.sort(key=lambda s: (s.created_at, s.instance_id))
    cache.save()
    return out


def all_ids(inst: Path, known: Collection[str] = ()) -> set[str]:
    """Every instance with any of its files in `inst`: a journal, a snapshot
    or a status (an instance in `known`, the listing cache, is checked by the
    caller's stat of its journal instead)."""
    out: set[str] = set()
    try:
        entries = os.scandir(inst)
    except (FileNotFoundError, NotADirectoryError):
        return out
    with entries:
        for e in entries:
            name = e.name
            if name.startswith("."):
                continue
            if name.endswith(".json") and e.is_file():
                name = name[:-len(".json")]
            elif not e.is_dir() or (name not in known and not any(
                    os.path.lexists(os.path.join(e.path, f))
                    for f in ("history.ndjson", "state.json"))):
                continue
            if valid_id(name):
                out.add(name)
    return out


def valid_id(name: str) -> bool:
    try:
        check_instance_id(name)
    except StoreError:
        return False
    return True
