"""`check` and `repair` of one instance of the file backend.

`check_instance` reports, with the file's path: `torn-tail`, `corrupt-line`,
`bad-state`, `bad-status`, `stale-status`, `bad-lock` (a directory or other
non-file where the lock file belongs) and `lost-history` (a journal missing,
not a file, or shorter than what was committed: `file_damage.py`).
`repair_instance` keeps a copy of everything it replaces or drops
(`<name>.corrupt-<time>-<pid>`; something that is not a file is moved aside
under that name), rebuilds state.json and the status file from what
survives, and where history was lost appends one commit holding the whole
surviving state and a `history_lost` event that says what is gone; it never
renumbers events and never invents them.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatflow.runtime.store.atomic import fsync_dir
from chatflow.runtime.store.base import InstanceNotFound, StoreCorruption, check_instance_id
from chatflow.runtime.store.file_damage import loss_record
from chatflow.runtime.store.file_layout import stamp as backup_stamp
from chatflow.runtime.store.file_load import Entry
from chatflow.runtime.store.journal import encode_commit, scan
from chatflow.runtime.store.records import (
    LOSS_EVENT,
    Problem,
    RepairReport,
    StatusRecord,
    utc_now,
)

if TYPE_CHECKING:
    from chatflow.runtime.store.file import FileStore


def _kind_at(path: Path) -> str:
    """missing, file, directory or other (a FIFO, a device, a socket, a link loop)."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    if stat.S_ISREG(mode):
        return "file"
    return "directory" if stat.S_ISDIR(mode) else "other"


def _in_the_way(kind: str) -> str:
    return "a directory" if kind == "directory" else "something that is not a regular file"


def check_instance(store: FileStore, iid: str) -> list[Problem]:
    check_instance_id(iid)
    if not store.exists(iid):
        raise InstanceNotFound(iid, str(store.root))
    problems: list[Problem] = []
    hpath = store.history_path(iid)
    data = hpath.read_bytes() if store.journal_kind(iid) == "file" else b""
    result = scan(data)
    for off, why in result.bad_lines:
        line_no = data.count(b"\n", 0, off) + 1
        problems.append(Problem(iid, str(hpath), "corrupt-line", f"line {line_no}: {why}",
                                repairable=False))
    if result.tail:
        line_no = data.count(b"\n", 0, result.end) + 1
        problems.append(Problem(
            iid, str(hpath), "torn-tail",
            f"the last {len(result.tail)} byte(s) from line {line_no} are an unfinished "
            "commit (a crash mid-append); they will be dropped, a .corrupt copy kept"))
    lost: Problem | None = None
    try:
        lost = store.load_full(iid).damage
    except StoreCorruption as exc:
        seen = {(p.kind, p.message) for p in problems}
        problems.extend(p for p in exc.problems if (p.kind, p.message) not in seen)
    spath = store.state_path(iid)
    if store.read_snapshot(iid) is None:
        kind = _kind_at(spath)
        what = {"missing": "missing", "file": "not a valid state snapshot"}.get(
            kind, _in_the_way(kind))
        problems.append(Problem(iid, str(spath), "bad-state",
                                f"state.json is {what}; it will be rebuilt from history",
                                repairable=bool(result.commits)
                                and result.commits[0].create is not None))
    problems.extend(_status_problems(
        store, iid, result.commits[-1].rev if result.commits else 0,
        result.commits[-1].status.get("status") if result.commits else None,
        stale_matters=lost is None))
    lock = store.lock_path(iid)
    kind = _kind_at(lock)
    if kind not in ("missing", "file"):
        problems.append(Problem(iid, str(lock), "bad-lock",
                                f"{_in_the_way(kind)} stands where the instance's lock file "
                                "belongs, so nothing can drive the instance; it will be moved "
                                "aside"))
    if lost is not None:
        problems.append(lost)
    return problems


def _status_problems(store: FileStore, iid: str, journal_rev: int, journal_status: Any,
                     stale_matters: bool) -> list[Problem]:
    """A status file behind the journal is normal (it is rewritten only when
    the status changes, with snapshots, and every STATUS_LAG_BYTES): it is
    stale when it is ahead, or behind across a change of status."""
    path = store.status_path(iid)
    kind = _kind_at(path)
    if kind == "missing":
        return [Problem(iid, str(path), "bad-status",
                        "the status file is missing; it will be rebuilt")]
    if kind != "file":
        return [Problem(iid, str(path), "bad-status",
                        f"{_in_the_way(kind)} stands where the status file belongs; it will "
                        "be moved aside and the status rebuilt")]
    try:
        doc = json.loads(path.read_bytes())
        st = StatusRecord.from_json(doc)
        int(doc["journal_offset"])
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        return [Problem(iid, str(path), "bad-status",
                        f"the status file is not a valid status record ({e}); it will be "
                        "rebuilt from state and history")]
    snap = store.read_snapshot(iid)
    true_rev = max(int(snap["rev"]) if snap is not None else 0, journal_rev)
    true_status = journal_status if journal_rev >= true_rev or snap is None \
        else snap["status"].get("status")
    if stale_matters and (st.rev > true_rev or (st.rev < true_rev
                                                and st.status != true_status)):
        return [Problem(iid, str(path), "stale-status",
                        f"status is at rev {st.rev} but the journal is at rev {true_rev}; "
                        "it will be rebuilt")]
    return []


def repair_instance(store: FileStore, iid: str) -> RepairReport:
    report = RepairReport(iid, check_instance(store, iid))
    if not report.problems or not report.ok:
        return report
    kinds = {p.kind for p in report.problems}
    stamp = backup_stamp()
    for path in (store.history_path(iid), store.state_path(iid), store.status_path(iid),
                 store.lock_path(iid)):
        kind = _kind_at(path)
        if kind not in ("missing", "file"):
            aside = path.with_name(f"{path.name}.corrupt-{stamp}")
            os.rename(path, aside)
            report.backups.append(str(aside))
            report.actions.append(f"moved {_in_the_way(kind)} out of the way of {path.name}")
    with store.journal_for_repair(iid) as fd:
        if "torn-tail" in kinds:
            good = scan(store.history_path(iid).read_bytes()).end
            report.backups.append(store.cut_tail(iid, fd, good))
            report.actions.append(f"dropped the unfinished tail of history.ndjson after "
                                  f"byte {good}")
        for path, kind in ((store.state_path(iid), "bad-state"),
                           (store.status_path(iid), "bad-status"),
                           (store.status_path(iid), "stale-status")):
            if kind in kinds and _kind_at(path) == "file":
                backup = path.with_name(f"{path.name}.corrupt-{stamp}")
                if not backup.exists():
                    shutil.copyfile(path, backup)
                    report.backups.append(str(backup))
        if "bad-state" in kinds:
            store.state_path(iid).unlink(missing_ok=True)
        entry = store.load_full(iid)
        if entry.damage is not None:
            entry = _record_loss(store, iid, fd, entry, stamp, report)
        store.write_snapshot(iid, entry)
        store.write_status(iid, entry, durable=True)
        report.actions.append(f"rewrote state.json and the status file at rev "
                              f"{entry.status.rev}")
    if entry.status.feature_id:
        store.index_add(entry.status.feature_id, iid)
    return report


def _record_loss(store: FileStore, iid: str, fd: int, entry: Entry, stamp: str,
                 report: RepairReport) -> Entry:
    """Append the commit that carries the whole surviving state on, after lost
    history: a copy of the journal is kept first."""
    assert entry.journal is not None and entry.state is not None and entry.steps is not None
    hpath = store.history_path(iid)
    copy = None
    if os.fstat(fd).st_size > 0:
        copy = str(hpath.with_name(f"history.ndjson.corrupt-{stamp}"))
        if not os.path.exists(copy):     # (cutting a torn tail may have made it already)
            shutil.copyfile(hpath, copy)
        if copy not in report.backups:
            report.backups.append(copy)
    rev, seq, data = loss_record(entry.journal, entry.marks, entry.status.rev, copy)
    now = utc_now()
    status = replace(entry.status, rev=rev, seq=seq, updated_at=now)
    state = replace(entry.state, steps=dict(entry.steps), rev=rev)
    event = {"seq": seq, "type": LOSS_EVENT, "ts": now, "step": None, "data": data}
    blob = encode_commit([event], {"rev": rev, "status": status.to_json(),
                                   "create": state.to_json()})
    view = memoryview(blob)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)
    fsync_dir(hpath.parent)
    st = os.fstat(fd)
    report.actions.append(f"recorded the loss as event {seq} (`{LOSS_EVENT}`) in a new "
                          f"commit at rev {rev} that carries the whole state on: "
                          f"{data['message']}")
    steps = dict(state.steps)
    return Entry(ino=st.st_ino, offset=st.st_size, seen_size=st.st_size, status=status,
                 next_seq=seq + 1, state=replace(state, steps=steps), steps=steps,
                 snap_offset=-1)
