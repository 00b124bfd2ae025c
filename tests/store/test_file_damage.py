"""Damage to an instance's files on the file backend (issue 7, item 10): a
journal that lost history (cut at a line boundary, emptied, deleted, a
directory in its place), a directory where the status or lock file belongs,
event lines with a `seq` of the wrong type. Reads keep working, commits on
lost history are refused, `repair` keeps a copy of what it replaces and
records the loss instead of renumbering, and listings never hide the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatflow.runtime.store import Change, NewEvent, StoreCorruption, StoreError, open_store
from chatflow.runtime.store.file import FileStore
from chatflow.testing.store_conformance import create, record_step

IID = "inst-1"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / ".chatflow"


def open_fs(root: Path) -> FileStore:
    s = open_store(f"file:{root}")
    assert isinstance(s, FileStore)
    return s


def waiting_instance(root: Path) -> FileStore:
    """Events 1..4, rev 4; the snapshot (written when it starts waiting) covers all."""
    fs = open_fs(root)
    create(fs)
    record_step(fs, IID, 1)
    record_step(fs, IID, 2)
    fs.commit(IID, Change(status={"status": "waiting_approval"},
                          events=(NewEvent("step_waiting_approval", "s3"),)))
    return fs


def running_instance(root: Path) -> FileStore:
    """Events 1..4, rev 4; the snapshot is still the one written at creation."""
    fs = open_fs(root)
    create(fs)
    for i in range(1, 4):
        record_step(fs, IID, i)
    return fs


def journal(root: Path) -> Path:
    return root / "instances" / IID / "history.ndjson"


def drop_last_line(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))


def test_a_journal_cut_at_a_line_boundary_is_found_and_commits_are_refused(root: Path) -> None:
    running_instance(root)
    hist = journal(root)
    drop_last_line(hist)                       # commit rev 4 (step s3, event 4) is gone
    cut = hist.read_bytes()
    fs = open_fs(root)
    assert fs.load_status(IID).rev == 3        # reads go on with what survives
    damage = fs.damage(IID)
    assert damage is not None and damage.kind == "lost-history" and damage.lossy
    assert "rev 4" in damage.message and "seq 4" in damage.message
    assert "will be redone" in damage.message     # the state itself lost rev 4
    with pytest.raises(StoreCorruption, match=r"chatflow repair inst-1"):
        record_step(fs, IID, 9)
    assert hist.read_bytes() == cut            # nothing was appended
    assert [p.kind for p in fs.check(IID)] == ["lost-history"]
    assert [p.kind for p in fs.inventory().damaged[IID]] == ["lost-history"]
    report = fs.repair(IID)
    assert report.ok
    copy = Path(report.backups[0])
    assert copy.read_bytes() == cut
    assert fs.check(IID) == [] and fs.damage(IID) is None
    assert set(fs.load_state(IID).steps) == {"s1", "s2"}   # rebuilt at rev 3, said so
    events = list(fs.iter_history(IID))
    assert [e.seq for e in events] == [1, 2, 3, 5]
    assert events[-1].data["lost_seqs"] == [[4, 4]] and events[-1].data["lost_revs"] == [[4, 4]]
    assert events[-1].data["state_rev"] == 3
    assert record_step(fs, IID, 3) == 6
    assert [e.seq for e in open_fs(root).iter_history(IID)] == [1, 2, 3, 5, 6]


def test_a_journal_emptied_keeps_the_snapshot_state(root: Path) -> None:
    waiting_instance(root)
    expected = open_fs(root).load_state(IID)
    journal(root).write_bytes(b"")
    fs = open_fs(root)
    assert fs.load_status(IID).status == "waiting_approval"
    assert fs.load_state(IID) == expected
    damage = fs.damage(IID)
    assert damage is not None and "ends at byte 0" in damage.message
    assert "still holds the whole state (rev 4)" in damage.message
    with pytest.raises(StoreCorruption):
        fs.commit(IID, Change(status={"status": "running"}))
    report = fs.repair(IID)
    assert report.ok and report.backups == []            # nothing in the empty file to keep
    events = list(fs.iter_history(IID))
    assert [(e.seq, e.type) for e in events] == [(5, "history_lost")]
    assert events[0].data["lost_seqs"] == [[1, 4]]
    state = fs.load_state(IID)
    assert state.steps == expected.steps and state.rev == 5


@pytest.mark.parametrize("damage", ["deleted", "directory"])
def test_a_missing_journal_keeps_the_instance_visible(root: Path, damage: str) -> None:
    waiting_instance(root)
    create(open_fs(root), "inst-2")
    hist = journal(root)
    hist.unlink()
    if damage == "directory":
        hist.mkdir()
    fs = open_fs(root)
    assert fs.exists(IID)
    assert [s.instance_id for s in fs.list_instances()] == [IID, "inst-2"]
    inv = fs.inventory()
    assert list(inv.damaged) == [IID]
    message = inv.damaged[IID][0].message
    assert ("is missing" if damage == "deleted" else "is a directory") in message
    assert fs.load_status(IID).status == "waiting_approval"
    assert list(fs.iter_history(IID)) == []
    with pytest.raises(StoreCorruption):
        fs.commit(IID, Change(status={"status": "running"}))
    report = fs.repair(IID)
    assert report.ok
    if damage == "directory":
        assert any(b.startswith(str(hist) + ".corrupt-") and Path(b).is_dir()
                   for b in report.backups)
    assert hist.is_file() and fs.check(IID) == []
    assert [e.type for e in fs.iter_history(IID)] == ["history_lost"]
    assert fs.commit(IID, Change(status={"status": "running"},
                                 events=(NewEvent("step_approved", "s3"),))).seq == 6


def test_a_journal_deleted_under_a_warm_cache(root: Path) -> None:
    fs = running_instance(root)
    journal(root).unlink()
    with pytest.raises(StoreCorruption, match="missing"):
        record_step(fs, IID, 9)


def test_nothing_left_is_not_repairable_and_does_not_hide_the_others(root: Path) -> None:
    fs = running_instance(root)
    create(fs, "inst-2")
    journal(root).write_bytes(b"")
    (root / "instances" / IID / "state.json").unlink()
    fresh = open_fs(root)
    inv = fresh.inventory()
    assert [s.instance_id for s in inv.statuses] == ["inst-2"]
    assert not inv.damaged[IID][0].repairable
    with pytest.raises(StoreCorruption):
        fresh.load_status(IID)
    assert not fresh.repair(IID).ok


def test_a_status_file_that_is_a_directory(root: Path) -> None:
    running_instance(root)
    status = root / "instances" / f"{IID}.json"
    status.unlink()
    status.mkdir()
    fs = open_fs(root)
    assert fs.load_status(IID).rev == 4
    assert record_step(fs, IID, 4) == 5           # durable: the status file is only a cache
    assert [p.kind for p in fs.check(IID)] == ["bad-status"]
    report = fs.repair(IID)
    assert report.ok and status.is_file()
    assert json.loads(status.read_text())["rev"] == 5
    assert fs.check(IID) == []


def test_a_lock_that_is_a_directory(root: Path) -> None:
    fs = running_instance(root)
    lock = root / "instances" / IID / ".lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()
    with pytest.raises(StoreError, match=r"is a directory.*chatflow repair inst-1"), \
            fs.lock(IID):
        pass
    assert [p.kind for p in fs.check(IID)] == ["bad-lock"]
    assert fs.repair(IID).ok
    with fs.lock(IID, timeout=5):
        pass
    assert fs.check(IID) == []


@pytest.mark.parametrize("bad", ['"4"', '"x"', "null", "4.5", "true", "-1", "[4]", "{}"])
def test_an_event_seq_of_the_wrong_type(root: Path, bad: str) -> None:
    running_instance(root)
    hist = journal(root)
    hist.write_bytes(hist.read_bytes().replace(b'{"seq":3,', b'{"seq":' + bad.encode() + b","))
    fs = open_fs(root)
    assert fs.load_status(IID).rev == 4
    assert [e.seq for e in fs.iter_history(IID)] == [1, 2, 4]
    [problem] = fs.check(IID)
    assert problem.kind == "corrupt-line" and "seq" in problem.message
    assert record_step(fs, IID, 9) == 5
    assert [e.seq for e in fs.iter_history(IID)] == [1, 2, 4, 5]   # 3 is never reused


def test_an_unreadable_commit_in_the_middle_is_not_skipped(root: Path) -> None:
    running_instance(root)
    hist = journal(root)
    hist.write_bytes(hist.read_bytes().replace(b'"tx":{"rev":3,', b'"tx":{"rev":"3",'))
    (root / "instances" / IID / "state.json").unlink()
    fs = open_fs(root)
    with pytest.raises(StoreCorruption, match="no readable commit for rev 3"):
        fs.load_state(IID)
    assert {"corrupt-line", "missing-commit"} <= {p.kind for p in fs.check(IID)}
    assert list(fs.inventory().damaged) == [IID]


def test_a_stale_status_file_is_not_lost_history(root: Path) -> None:
    fs = running_instance(root)
    status = root / "instances" / f"{IID}.json"
    old = status.read_bytes()
    record_step(fs, IID, 4)
    status.write_bytes(old)              # a crash between the journal fsync and the rename
    fresh = open_fs(root)
    assert fresh.damage(IID) is None
    assert fresh.check(IID) == []        # behind the journal is normal
    assert record_step(fresh, IID, 5) == 6
