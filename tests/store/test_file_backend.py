"""The file backend's on-disk layout, snapshots and crash repair."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chatflow.runtime.store import Change, NewEvent, StoreCorruption, open_store
from chatflow.runtime.store.file import FileStore
from chatflow.testing.store_conformance import create, record_step


@pytest.fixture
def fs(tmp_path: Path) -> FileStore:
    s = open_store(f"file:{tmp_path / '.chatflow'}")
    assert isinstance(s, FileStore)
    return s


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def lines_of(root: Path) -> list[bytes]:
    return (root / "instances/inst-1/history.ndjson").read_bytes().splitlines()


def test_layout(fs: FileStore, tmp_path: Path) -> None:
    create(fs)
    record_step(fs, "inst-1", 1)
    fs.put_artifact("inst-1", "s1", "stdout", b"out")
    ref = fs.pin_ir({"entry": "feature"}, "feature", "1.0")
    root = tmp_path / ".chatflow"
    assert json.loads((root / "store.json").read_text()) == {"format": 2}
    got = files(root)
    for f in ("instances/inst-1.json", "instances/inst-1/state.json",
              "instances/inst-1/history.ndjson", "instances/inst-1/tasks/s1/stdout",
              ".indexes/feature_index.json", "schemas/feature@1.0.json"):
        assert f in got
    assert json.loads((root / ".indexes/feature_index.json").read_text()) == {"F-1": ["inst-1"]}
    assert fs.artifact_dir("inst-1", "s1") == root / "instances/inst-1/tasks/s1"
    status = json.loads((root / "instances/inst-1.json").read_text())
    # the status file lags the journal (rewritten on a change of status)
    assert status["rev"] == 1 and status["status"] == "running"
    assert (root / "instances/inst-1/.mark").read_bytes().split()[:3] == [
        str(status["journal_offset"] + len(lines_of(root)[1]) + 1).encode(), b"2", b"3"]
    lines = (root / "instances/inst-1/history.ndjson").read_text().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [1, 2]
    for x in lines:
        assert {"seq", "type", "ts", "step", "data"} <= set(json.loads(x))
    # a second IR with the same flow@version gets a hash-suffixed file
    ref2 = fs.pin_ir({"entry": "feature", "v": 2}, "feature", "1.0")
    assert (root / f"schemas/feature@1.0.{ref2.sha256[:16]}.json").exists()
    assert fs.load_ir(ref) == {"entry": "feature"}
    assert not any(name.endswith(".tmp") for name in files(root))


def test_reads_create_nothing(tmp_path: Path) -> None:
    s = open_store(f"file:{tmp_path / 'nothing'}")
    assert s.list_instances() == [] and not s.exists("x")
    assert not (tmp_path / "nothing").exists()
    q = open_store(f"sqlite:///{tmp_path / 'none.db'}")
    assert q.list_instances() == []
    assert not (tmp_path / "none.db").exists()


def test_snapshot_plus_replay_equals_live_state(tmp_path: Path) -> None:
    url = f"file:{tmp_path / '.chatflow'}"
    a = open_store(url)
    assert isinstance(a, FileStore)
    a.snapshot_min_bytes = 2000          # snapshot every few commits
    create(a)
    for i in range(120):
        record_step(a, "inst-1", i)
    snap = json.loads((tmp_path / ".chatflow/instances/inst-1/state.json").read_text())
    assert 1 < snap["rev"] <= 121
    b = open_store(url)
    assert b.load_state("inst-1") == a.load_state("inst-1")
    assert b.load_status("inst-1") == a.load_status("inst-1")


def test_snapshot_is_not_rewritten_every_step(fs: FileStore, tmp_path: Path) -> None:
    create(fs)
    state_json = tmp_path / ".chatflow/instances/inst-1/state.json"
    before = state_json.stat().st_mtime_ns, state_json.stat().st_ino
    for i in range(20):
        record_step(fs, "inst-1", i)
    assert (state_json.stat().st_mtime_ns, state_json.stat().st_ino) == before
    fs.commit("inst-1", Change(status={"status": "succeeded", "progress": 1.0}))
    assert json.loads(state_json.read_text())["rev"] == 22   # written when it stops


def test_torn_history_tail_is_reported_and_repaired(fs: FileStore, tmp_path: Path) -> None:
    create(fs)
    for i in range(3):
        record_step(fs, "inst-1", i)
    hist = tmp_path / ".chatflow/instances/inst-1/history.ndjson"
    good = hist.read_bytes()
    with open(hist, "ab") as f:           # a crash in the middle of an append
        f.write(b'{"seq":5,"type":"step_completed","ts":"2024-')
    fresh = open_store(f"file:{tmp_path / '.chatflow'}")
    assert fresh.load_status("inst-1").rev == 4          # the tail is not committed
    assert len(fresh.load_state("inst-1").steps) == 3
    [problem] = fresh.check("inst-1")
    assert problem.kind == "torn-tail" and problem.path == str(hist)
    assert "line 5" in str(problem)
    report = fresh.repair("inst-1")
    assert report.ok and report.backups and report.actions
    assert hist.read_bytes() == good
    assert Path(report.backups[0]).read_bytes().endswith(b'"ts":"2024-')
    assert fresh.check("inst-1") == []
    assert [e.seq for e in fresh.iter_history("inst-1")] == [1, 2, 3, 4]
    assert record_step(fresh, "inst-1", 9) == 5


def test_next_writer_cuts_a_torn_tail(fs: FileStore, tmp_path: Path) -> None:
    create(fs)
    record_step(fs, "inst-1", 1)
    hist = tmp_path / ".chatflow/instances/inst-1/history.ndjson"
    with open(hist, "ab") as f:
        f.write(b'{"seq":3,"type":"step_started","ts":"x","step":"s2","data":{}}\n{"se')
    other = open_store(f"file:{tmp_path / '.chatflow'}")
    record_step(other, "inst-1", 2)
    assert [e.seq for e in other.iter_history("inst-1")] == [1, 2, 3]
    assert other.check("inst-1") == []
    assert list(hist.parent.glob("history.ndjson.corrupt-*"))
    assert fs.load_state("inst-1").steps.keys() == {"s1", "s2"}


def test_garbage_status_file(fs: FileStore, tmp_path: Path) -> None:
    create(fs)
    record_step(fs, "inst-1", 1)
    status = tmp_path / ".chatflow/instances/inst-1.json"
    status.write_bytes(b"\x00\x00garbage{")
    fresh = open_store(f"file:{tmp_path / '.chatflow'}")
    st = fresh.load_status("inst-1")                    # rebuilt from state + history
    assert st.rev == 2 and st.feature_id == "F-1"
    [problem] = fresh.check("inst-1")
    assert problem.kind == "bad-status" and problem.path == str(status)
    report = fresh.repair("inst-1")
    assert report.ok and any("inst-1.json.corrupt-" in b for b in report.backups)
    assert json.loads(status.read_text())["rev"] == 2
    assert fresh.check("inst-1") == []
    assert [s.instance_id for s in fresh.list_instances("F-1")] == ["inst-1"]


def test_garbage_state_json_is_rebuilt_from_history(fs: FileStore, tmp_path: Path) -> None:
    create(fs)
    for i in range(4):
        record_step(fs, "inst-1", i)
    expected = fs.load_state("inst-1")
    state_json = tmp_path / ".chatflow/instances/inst-1/state.json"
    state_json.write_text('{"instance_id": "inst-1", "steps": [')
    fresh = open_store(f"file:{tmp_path / '.chatflow'}")
    assert fresh.load_state("inst-1") == expected
    kinds = {p.kind for p in fresh.check("inst-1")}
    assert kinds == {"bad-state"}
    report = fresh.repair("inst-1")
    assert report.ok and report.backups
    assert json.loads(state_json.read_text())["rev"] == 5
    assert fresh.check("inst-1") == []


def test_crash_before_status_write_is_invisible(fs: FileStore, tmp_path: Path) -> None:
    create(fs)
    status = tmp_path / ".chatflow/instances/inst-1.json"
    old = status.read_bytes()
    record_step(fs, "inst-1", 1)
    status.write_bytes(old)              # as if we died after the journal fsync
    fresh = open_store(f"file:{tmp_path / '.chatflow'}")
    assert fresh.load_status("inst-1").rev == 2
    # A status file behind the journal is normal (it is not rewritten on every
    # commit); it is stale only when it missed a change of status.
    assert fresh.check("inst-1") == []
    with fs.transaction("inst-1") as tx:
        tx.set_status(status="succeeded")
    status.write_bytes(old)
    fresh = open_store(f"file:{tmp_path / '.chatflow'}")
    assert fresh.load_status("inst-1").status == "succeeded"
    assert [p.kind for p in fresh.check("inst-1")] == ["stale-status"]


def test_the_status_file_is_not_rewritten_on_every_commit(fs: FileStore,
                                                         tmp_path: Path) -> None:
    create(fs)
    status = tmp_path / ".chatflow/instances/inst-1.json"
    first = status.read_bytes()
    record_step(fs, "inst-1", 1)
    record_step(fs, "inst-1", 2)
    assert status.read_bytes() == first
    assert open_store(f"file:{tmp_path / '.chatflow'}").load_status("inst-1").rev == 3


def test_unrepairable_history_is_reported(fs: FileStore, tmp_path: Path) -> None:
    create(fs)
    hist = tmp_path / ".chatflow/instances/inst-1/history.ndjson"
    hist.write_bytes(b"garbage\n")
    (tmp_path / ".chatflow/instances/inst-1/state.json").unlink()
    fresh = open_store(f"file:{tmp_path / '.chatflow'}")
    with pytest.raises(StoreCorruption, match=r"history\.ndjson"):
        fresh.load_state("inst-1")
    problems = fresh.check("inst-1")
    assert any(not p.repairable for p in problems)
    assert not fresh.repair("inst-1").ok


def test_cache_follows_another_store_object(fs: FileStore, tmp_path: Path) -> None:
    create(fs)
    other = open_store(f"file:{tmp_path / '.chatflow'}")
    assert other.load_state("inst-1").rev == 1
    record_step(fs, "inst-1", 1)
    record_step(fs, "inst-1", 2)
    assert other.load_status("inst-1").rev == 3
    assert set(other.load_state("inst-1").steps) == {"s1", "s2"}
    # a repair elsewhere that shrinks the journal makes the cache start over
    hist = tmp_path / ".chatflow/instances/inst-1/history.ndjson"
    lines = hist.read_bytes().splitlines(keepends=True)
    os.truncate(hist, len(b"".join(lines[:-1])))
    assert other.load_status("inst-1").rev == 2
    assert [e.seq for e in other.iter_history("inst-1")] == [1, 2]


def test_a_journal_cut_below_the_snapshot_is_lost_history(fs: FileStore,
                                                          tmp_path: Path) -> None:
    """Regression (issue 7): the journal lost its last commit (a torn line the
    snapshot covers). Reads go on from the snapshot; commits are refused until
    repair records the loss; event numbers are never reused."""
    create(fs)
    record_step(fs, "inst-1", 1)
    fs.commit("inst-1", Change(status={"status": "waiting_approval"},
                               events=(NewEvent("step_waiting_approval", "s2"),)))
    hist = tmp_path / ".chatflow/instances/inst-1/history.ndjson"
    data = hist.read_bytes()
    hist.write_bytes(data[:-20])          # the last commit's line is torn; the snapshot has it
    other = open_store(f"file:{tmp_path / '.chatflow'}")
    assert other.load_status("inst-1").status == "waiting_approval"
    assert set(other.load_state("inst-1").steps) == {"s1"}
    with pytest.raises(StoreCorruption, match=r"chatflow repair inst-1"):
        record_step(other, "inst-1", 2)
    problems = {p.kind: p for p in other.check("inst-1")}
    assert problems["lost-history"].lossy and problems["lost-history"].repairable
    assert "rev 3" in problems["lost-history"].message
    report = other.repair("inst-1")
    assert report.ok and any("history_lost" in a for a in report.actions), report.actions
    assert other.check("inst-1") == []
    for i in range(2, 6):
        record_step(other, "inst-1", i)
    third = open_store(f"file:{tmp_path / '.chatflow'}")
    assert set(third.load_state("inst-1").steps) == {"s1", "s2", "s3", "s4", "s5"}
    assert third.load_state("inst-1") == other.load_state("inst-1")
    events = list(third.iter_history("inst-1"))
    assert [e.seq for e in events] == [1, 2, 4, 5, 6, 7, 8]      # seq 3 is gone, not reused
    assert events[2].type == "history_lost" and events[2].data["lost_seqs"] == [[3, 3]]


@pytest.mark.parametrize("hook", ["_marks", "_read_mark"])
def test_a_commit_by_another_process_while_loading_is_not_lost_history(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hook: str) -> None:
    """A writer appends to the journal, then moves `.mark` (and the status
    file, the snapshot). A reader that loads while another store commits must
    not take a newer mark for lost history: it reads the marks before the
    journal (read the other way round, a concurrent committer's run failed
    with "lost-history" about 1 time in 15 under load)."""
    url = f"file:{tmp_path}"
    writer, reader = open_store(url), open_store(url)
    create(writer)
    record_step(writer, "inst-1", 1)
    original = getattr(FileStore, hook)
    fired: list[bool] = []

    def commit_first(self: FileStore, *args: object) -> object:
        if self is reader and not fired:
            fired.append(True)
            record_step(writer, "inst-1", 10)   # lands between the reader's reads
        return original(self, *args)

    monkeypatch.setattr(FileStore, hook, commit_first)
    state = reader.load_state("inst-1")        # the full load (snapshot + journal)
    assert fired and reader.damage("inst-1") is None
    assert state.rev >= 2
    record_step(reader, "inst-1", 11)           # and it can commit
    assert writer.load_status("inst-1").rev == reader.load_status("inst-1").rev == 4
