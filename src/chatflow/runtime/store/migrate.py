"""`chatflow migrate`: upgrade a stored state tree to the current format.

File stores: format 1 (ChatFlow v1.0: one monolithic `instances/<id>.json`
per instance holding status, state and history, no `store.json`) becomes
format 2 (docs/state-stores.md) in place, after copying the old tree to
`<root>.bak-<timestamp>/`.  Instances already converted are skipped, so an
interrupted migration can simply be run again; `store.json` is written last.
A tree from a newer or unknown format is refused untouched.

SQL stores: the pending schema migrations are applied (SQLite copies the
database to `<db>.bak-<timestamp>` first).

Which of these a state URL gets is the URL scheme registry's choice
(`registry.py`, `chatflow.runtime.store.migrate_store`).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from chatflow.runtime.store.atomic import atomic_write, atomic_write_json, fsync_dir
from chatflow.runtime.store.base import (
    StateStore,
    StoreError,
    StoreFormatError,
    check_instance_id,
)
from chatflow.runtime.store.file import Entry, FileStore
from chatflow.runtime.store.journal import encode_commit
from chatflow.runtime.store.records import (
    FORMAT_VERSION,
    INSTANCE_STATUSES,
    MigrationReport,
    StateRecord,
    StatusRecord,
    StepRecord,
)


def migrate_by_setup(store: StateStore, url: str) -> MigrationReport:
    """A store that migrates its own schema in `setup()` (PostgreSQL, and a
    plugin backend without a migration of its own): the schema version
    before and after (`schema_version()`, 0 for a backend without one)."""
    try:
        before = store.schema_version()
        store.setup()
        after = store.schema_version()
    finally:
        store.close()
    return MigrationReport(url, before, after, message=_sql_message(before, after))


def _sql_message(before: int, after: int) -> str:
    if before == after:
        return f"schema already at version {after}; nothing to do"
    return f"applied schema migrations {before + 1}..{after}"


def migrate_sqlite(path: Path, url: str, backup: bool) -> MigrationReport:
    from chatflow.runtime.store.sql_schema import MIGRATIONS
    from chatflow.runtime.store.sqlite import SQLiteStore

    if not path.exists():
        raise StoreError(f"no SQLite state database at {path}")
    store = SQLiteStore(path, url)
    try:
        before = store.schema_version()
        report = MigrationReport(url, before, len(MIGRATIONS))
        if before < len(MIGRATIONS) and backup and before > 0:
            dest = _free_name(path.with_name(f"{path.name}.bak-{_stamp()}"))
            src = sqlite3.connect(str(path))
            dst = sqlite3.connect(str(dest))
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
            report.backup = str(dest)
        store.setup()
        report.to_format = store.schema_version()
        report.message = _sql_message(before, report.to_format)
        return report
    finally:
        store.close()


def migrate_file_store(root: Path, url: str | None = None, backup: bool = True) -> MigrationReport:
    """Convert a format-1 `file:` tree to the current format in place."""
    url = url or f"file:{root}"
    if not root.exists():
        raise StoreError(f"no state directory at {root}")
    store = FileStore(root, url, check_format=False)
    fmt = store.stored_format()
    report = MigrationReport(url, fmt, FORMAT_VERSION)
    if fmt is None:
        report.message = f"{root} holds no instances; nothing to migrate"
        return report
    if fmt == FORMAT_VERSION:
        report.message = f"{root} is already at format {FORMAT_VERSION}; nothing to do"
        return report
    if fmt > FORMAT_VERSION or fmt < 1:
        raise StoreFormatError(f"{root} uses store format {fmt}, which this ChatFlow cannot "
                               f"migrate (it knows formats 1..{FORMAT_VERSION}); left untouched")
    # Refuse before changing anything if some file is not a v1.0 instance.
    todo: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted((root / "instances").glob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            doc = json.loads(path.read_bytes())
        except ValueError as e:
            raise StoreFormatError(f"{path}: not JSON ({e}); fix or remove it, then run "
                                   "`chatflow migrate` again (nothing was changed)") from None
        if isinstance(doc, dict) and "history" in doc and "state" in doc:
            todo.append((path, doc))
        elif isinstance(doc, dict) and "journal_offset" in doc:
            report.skipped.append(path.stem)   # converted by an interrupted run
        else:
            raise StoreFormatError(f"{path}: not a ChatFlow 1.0 instance file; nothing was "
                                   "changed")
    if backup:
        dest = _free_name(root.with_name(f"{root.name}.bak-{_stamp()}"))
        shutil.copytree(root, dest, symlinks=True)
        report.backup = str(dest)
    store.setup()
    for path, doc in todo:
        iid = _convert_instance(store, path, doc)
        report.migrated.append(iid)
    index: dict[str, list[str]] = {}
    for st in store.list_instances():
        if st.feature_id:
            index.setdefault(st.feature_id, []).append(st.instance_id)
    atomic_write_json(root / ".indexes" / "feature_index.json", index)
    atomic_write_json(root / "store.json", {"format": FORMAT_VERSION})
    report.message = (f"migrated {len(report.migrated)} instance(s) from format {fmt} to "
                      f"{FORMAT_VERSION}" + (f"; backup in {report.backup}" if report.backup
                                             else ""))
    return report


def _convert_instance(store: FileStore, path: Path, doc: dict[str, Any]) -> str:
    """One v1.0 monolithic file → status file + state.json + history.ndjson."""
    iid = str(doc.get("instance_id") or path.stem)
    check_instance_id(iid)
    s = doc.get("status") or {}
    if not isinstance(s, dict):
        raise StoreFormatError(f"{path}: 'status' is not an object")
    status_name = str(s.get("status", "running"))
    if status_name not in INSTANCE_STATUSES:
        raise StoreFormatError(f"{path}: unknown instance status {status_name!r}")
    st = doc.get("state") or {}
    history = [e for e in doc.get("history") or [] if isinstance(e, dict)]
    events = [{"seq": i + 1, "type": str(e.get("type", "event")),
               "ts": str(e.get("ts") or e.get("timestamp") or ""),
               "step": e.get("step"), "data": dict(e.get("data") or {})}
              for i, e in enumerate(history)]
    created = str(s.get("created_at") or (events[0]["ts"] if events else ""))
    status = StatusRecord(
        instance_id=iid, flow=str(s.get("flow") or doc.get("flow") or ""),
        flow_version=str(s.get("version") or s.get("flow_version") or ""),
        status=status_name, progress=float(s.get("progress") or 0.0),
        current_steps=tuple(s.get("current_steps") or ()),
        feature_id=s.get("feature_id"), parent_instance_id=s.get("parent_instance_id"),
        depth=int(s.get("depth") or 0), automation=s.get("automation"),
        error=s.get("error"), created_at=created,
        updated_at=str(s.get("updated_at") or created), rev=1, seq=len(events),
        extra={"migrated_from": "1.0"})
    steps = {}
    for name, r in (st.get("step_results") or st.get("steps") or {}).items():
        steps[str(name)] = StepRecord.from_json({**r, "name": name})
    state = StateRecord(iid, dict(st.get("inputs") or {}), dict(st.get("variables") or {}),
                        steps, dict(st.get("outputs") or {}),
                        tuple(st.get("children") or ()), None, {}, 1)
    idir = store.instance_dir(iid)
    (idir / "tasks").mkdir(parents=True, exist_ok=True)
    tx = {"rev": 1, "status": status.to_json(), "create": state.to_json()}
    data = encode_commit(events, tx)
    atomic_write(store.history_path(iid), data)
    fsync_dir(idir.parent)
    entry = Entry(ino=store.history_path(iid).stat().st_ino, offset=len(data),
                   seen_size=len(data), status=status, next_seq=len(events) + 1,
                   state=state, steps=dict(steps))
    store.write_snapshot(iid, entry)
    store.write_status(iid, entry, durable=True)   # replaces the monolithic file
    return iid


def _free_name(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
