"""Reading an instance of the file backend: snapshot + journal replay (or
just the status file and the commits after it), and the marks that tell a
journal that lost history (`file_damage.py`).  Nothing here writes."""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass, replace
from typing import Any

from chatflow.runtime.store.base import InstanceNotFound, StoreCorruption
from chatflow.runtime.store.file_blobs import FileBlobs
from chatflow.runtime.store.file_damage import JournalEnd, Mark, lost_history
from chatflow.runtime.store.file_mark import MARK_BYTES, decode_mark
from chatflow.runtime.store.journal import Commit, Scan, scan
from chatflow.runtime.store.records import (
    Problem,
    StateRecord,
    StatusRecord,
    StepRecord,
    apply_delta,
)


@dataclass
class Entry:
    """What this process knows about one instance's journal."""

    ino: int
    offset: int              # end of the last complete commit we applied
    seen_size: int           # file size when we last looked (may include a tail)
    status: StatusRecord
    next_seq: int
    state: StateRecord | None = None
    steps: dict[str, StepRecord] | None = None  # state.steps, owned by the cache
    snap_offset: int = 0
    snap_bytes: int = 0
    status_offset: int = -1  # the journal_offset of the status file we last wrote or read
    damage: Problem | None = None   # lost history: reads work, commits are refused
    journal: JournalEnd | None = None   # with `damage`: what the journal still holds
    marks: tuple[Mark, ...] = ()        # with `damage`: what was recorded

    def mark(self) -> Mark:
        return Mark("this process", self.offset, self.status.rev, self.next_seq)


class FileReader(FileBlobs):
    """Loads instances from the journal, the snapshot and the status file."""

    # -- reading -------------------------------------------------------------
    def journal_kind(self, instance_id: str) -> str:
        """What stands at history.ndjson: file, missing, directory or other."""
        try:
            st = os.stat(self._hist(instance_id))
        except (FileNotFoundError, NotADirectoryError):
            return "missing"
        if stat.S_ISREG(st.st_mode):
            return "file"
        return "directory" if stat.S_ISDIR(st.st_mode) else "other"

    def _read_from(self, instance_id: str, offset: int) -> tuple[bytes, int]:
        with open(self.history_path(instance_id), "rb") as f:
            ino = os.fstat(f.fileno()).st_ino
            f.seek(offset)
            return f.read(), ino

    def read_snapshot(self, instance_id: str) -> dict[str, Any] | None:
        """state.json's document when it is a usable snapshot, else None."""
        try:
            doc = json.loads(self.state_path(instance_id).read_bytes())
            if not isinstance(doc, dict):
                return None
            StateRecord.from_json(doc)
            StatusRecord.from_json(doc["status"])
            _count(doc["journal_offset"])
            _count(doc["next_seq"])
            return doc
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def read_status_file(self, instance_id: str) -> tuple[StatusRecord, int, int] | None:
        """(status, journal_offset, next_seq) from the status file, or None
        when it is missing or unusable (then it is rebuilt from the journal)."""
        try:
            doc = json.loads(self.status_path(instance_id).read_bytes())
            return (StatusRecord.from_json(doc), _count(doc["journal_offset"]),
                    _count(doc["next_seq"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _read_mark(self, instance_id: str) -> tuple[int, int, int] | None:
        """(journal offset, rev, next_seq) from `.mark`, or None."""
        try:
            with open(self.mark_path(instance_id), "rb") as f:
                return decode_mark(f.read(MARK_BYTES))
        except OSError:
            return None

    def _marks(self, instance_id: str, snap: dict[str, Any] | None,
               known: Entry | None) -> list[Mark]:
        marks = []
        if snap is not None:
            marks.append(Mark("state.json", int(snap["journal_offset"]), int(snap["rev"]),
                              int(snap["next_seq"])))
        sf = self.read_status_file(instance_id)
        if sf is not None:
            marks.append(Mark("the status file", sf[1], sf[0].rev, sf[2]))
        mk = self._read_mark(instance_id)
        if mk is not None:
            marks.append(Mark("the commit mark (.mark)", *mk))
        if known is not None:
            marks.append(known.mark())
        return marks

    def load_full(self, instance_id: str, known: Entry | None = None) -> Entry:
        """Snapshot + replay (or the whole journal when the snapshot is unusable).
        `known`: what this process had cached (a mark the journal must reach)."""
        hpath = self.history_path(instance_id)
        # The marks before the journal: a writer appends to the journal before
        # it moves a mark, so a journal read after them reaches every mark
        # unless commits were really lost (read the other way round, another
        # process's commit in between would look like lost history).
        snap = self.read_snapshot(instance_id)
        marks = self._marks(instance_id, snap, known)
        what = self.journal_kind(instance_id)
        data, ino = self._read_from(instance_id, 0) if what == "file" else (b"", 0)
        if what == "missing" and not marks and not self.state_path(instance_id).exists():
            raise InstanceNotFound(instance_id, str(self.root))
        size = len(data)
        state: StateRecord | None = None
        status: StatusRecord | None = None
        next_seq = 1
        start = 0
        snap_offset = 0
        snap_bytes = 0
        if snap is not None:
            state = StateRecord.from_json(snap)
            status = StatusRecord.from_json(snap["status"])
            next_seq = int(snap["next_seq"])
            snap_offset = int(snap["journal_offset"])
            with contextlib.suppress(OSError):
                snap_bytes = self.state_path(instance_id).stat().st_size
            aligned = snap_offset <= size and (snap_offset == 0 or data[snap_offset - 1] == 10)
            start = snap_offset if aligned else 0
            if not aligned:
                snap_offset = -1        # the journal was cut below it: re-snapshot soon
        result = scan(data[start:], start)
        if start and status is not None and result.commits \
                and result.commits[0].rev != status.rev + 1:
            # The offset does not lead to the next commit: trust revs, not offsets.
            snap_offset = -1
            start = 0
            result = scan(data, 0)
        steps: dict[str, StepRecord] = dict(state.steps) if state is not None else {}
        for c in result.commits:
            if status is not None and c.rev <= status.rev:
                continue
            _check_follows(instance_id, str(hpath), status, c)
            state, status = apply_commit(instance_id, state, steps, c)
        last_seq = last_event_seq(result)
        if last_seq is not None:
            next_seq = max(next_seq, last_seq + 1)
        base_rev = int(snap["rev"]) if start and snap is not None else 0
        journal = JournalEnd(what, result.end,
                             result.commits[-1].rev if result.commits else base_rev,
                             last_seq if last_seq is not None
                             else (next_seq - 1 if start else 0))
        damage = lost_history(instance_id, str(hpath), journal, marks,
                              None if status is None else status.rev,
                              "state.json" if snap is not None and status is not None
                              and status.rev == int(snap["rev"]) else "history.ndjson")
        if state is None or status is None:
            problems = [damage] if damage is not None else [Problem(
                instance_id, str(hpath), "unreadable",
                "no complete commit in the journal and no usable snapshot", repairable=False)]
            raise StoreCorruption(problems)
        if damage is not None:
            # Number on after the highest seq ever recorded (repair appends there).
            next_seq = max([next_seq, *(m.next_seq for m in marks)])
        # An unreadable event line is skipped, but its number stays taken: the
        # commit's status counts it.
        next_seq = max(next_seq, status.seq + 1)
        return Entry(ino=ino, offset=result.end, seen_size=size, status=status,
                     next_seq=next_seq, state=replace(state, steps=steps), steps=steps,
                     snap_offset=snap_offset, snap_bytes=snap_bytes, damage=damage,
                     journal=journal if damage else None,
                     marks=tuple(marks) if damage else ())

    def _load_status_only(self, instance_id: str) -> Entry | None:
        """The fast path: the status file, plus any journal commits after it."""
        sf = self.read_status_file(instance_id)
        if sf is None:
            return None
        status, offset, next_seq = sf
        mark = self._read_mark(instance_id)     # before the journal (see load_full)
        try:
            st = os.stat(self._hist(instance_id))
        except (FileNotFoundError, NotADirectoryError):
            return None     # the journal is gone: the full load says what survives
        if not stat.S_ISREG(st.st_mode) or offset > st.st_size:
            return None     # the journal lost commits the status saw: full load
        data, ino = self._read_from(instance_id, offset)
        if offset > 0:
            # The status must point just after a newline inside the journal.
            with open(self.history_path(instance_id), "rb") as f:
                f.seek(offset - 1)
                if f.read(1) != b"\n":
                    return None
        result = scan(data, offset)
        for c in result.commits:
            if c.rev <= status.rev:
                continue
            if c.create is None and c.rev != status.rev + 1:
                return None     # a commit is unreadable: the full load reports it
            try:
                status = StatusRecord.from_json(c.status)
            except (ValueError, KeyError, TypeError, AttributeError):
                return None     # the full load reports the bad commit
        last = last_event_seq(result)
        if last is not None:
            next_seq = last + 1
        if mark is not None and (mark[1] > status.rev or (
                mark[1] == status.rev and mark[0] > result.end)):
            return None     # the journal lost commits the mark saw: full load
        return Entry(ino=ino, offset=result.end, seen_size=offset + len(data),
                     status=status, next_seq=max(next_seq, status.seq + 1), snap_offset=-1,
                     status_offset=offset)

    def _catch_up(self, instance_id: str, entry: Entry) -> None:
        data, _ino = self._read_from(instance_id, entry.offset)
        result = scan(data, entry.offset)
        for c in result.commits:
            if c.rev <= entry.status.rev:
                continue
            _check_follows(instance_id, self._hist(instance_id), entry.status, c)
            if entry.state is not None and entry.steps is not None:
                entry.state, entry.status = apply_commit(instance_id, entry.state,
                                                          entry.steps, c)
            else:
                entry.status = status_of(instance_id, c)
        last = last_event_seq(result)
        if last is not None:
            entry.next_seq = last + 1
        entry.next_seq = max(entry.next_seq, entry.status.seq + 1)
        entry.offset = result.end
        entry.seen_size = entry.offset + len(result.tail)



# -- helpers -------------------------------------------------------------------


def _check_follows(instance_id: str, path: str, status: StatusRecord | None, c: Commit) -> None:
    """A delta applies only to the rev just before it: an unreadable commit in
    between (its line damaged) leaves a state that cannot be rebuilt."""
    if c.create is None and status is not None and c.rev != status.rev + 1:
        raise StoreCorruption([Problem(
            instance_id, path, "missing-commit",
            f"no readable commit for rev {status.rev + 1}"
            + (f"..{c.rev - 1}" if c.rev - 1 > status.rev + 1 else "")
            + f" before rev {c.rev}: the state after rev {status.rev} cannot be rebuilt "
            "from this journal (restore it from a backup)", repairable=False)])


def status_of(instance_id: str, c: Commit) -> StatusRecord:
    try:
        return StatusRecord.from_json(c.status)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreCorruption([Problem(instance_id, "history.ndjson", "corrupt-line",
                                       f"commit rev {c.rev}: unreadable status ({exc})",
                                       repairable=False)]) from None


def apply_commit(instance_id: str, state: StateRecord | None, steps: dict[str, StepRecord],
                  c: Commit) -> tuple[StateRecord, StatusRecord]:
    status = status_of(instance_id, c)
    try:
        if c.create is not None:
            state = StateRecord.from_json(c.create)
            steps.clear()
            steps.update(state.steps)
            return replace(state, steps=steps, rev=c.rev), status
        if state is None:
            raise StoreCorruption([Problem(instance_id, "history.ndjson", "no-base",
                                           f"commit rev {c.rev} has no state to apply to",
                                           repairable=False)])
        return apply_delta(state, c.delta or {}, c.rev, steps), status
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreCorruption([Problem(instance_id, "history.ndjson", "corrupt-line",
                                       f"commit rev {c.rev}: unreadable state change ({exc})",
                                       repairable=False)]) from None


def last_event_seq(result: Scan) -> int | None:
    for c in reversed(result.commits):
        if c.events:
            seq: int = c.events[-1]["seq"]
            return seq
    return None


def _count(value: Any) -> int:
    """A stored offset or counter: a non-negative int (not a bool, not text)."""
    if type(value) is not int or value < 0:
        raise ValueError(f"expected a non-negative integer, found {value!r}")
    return value


