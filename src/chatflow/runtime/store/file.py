"""The `file:` backend: one directory tree of JSON files (docs/state-stores.md).

Durability per transition is one append + fdatasync to `history.ndjson` (the
journal: every commit line carries the new status and the state *delta*).
`state.json` is a snapshot rewritten only when the journal written since the
last snapshot outgrows it (and when the instance stops), so recording a step
costs the same at step 10 and at step 10,000.  `<id>.json` (status) is a
cache of the journal up to its `journal_offset`: readers apply the commits
after it.  It is rewritten (atomic rename, no fsync) when the instance's
status changes, with each snapshot, and once `STATUS_LAG_BYTES` of journal
have been written since, not on every commit; it is rebuilt when damaged.
`.mark` (fixed width, rewritten in place, no fsync) records where the last
commit ends, so a journal that lost commits is still told.  Loads are
snapshot + replay of the journal after it, cached in memory and refreshed
incrementally when another process appends.  A journal
shorter than what state.json or the status file recorded has lost history
(`file_damage.py`): it is read, never appended to, until `repair`.
The layout is `file_layout.py`, loading `file_load.py`, integrity checks
and repair `file_repair.py`, pinned IR and artifacts `file_blobs.py`, the
feature index `file_index.py`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from typing import Any

from chatflow.runtime.store.atomic import atomic_write, dumps, fsync_dir
from chatflow.runtime.store.base import (
    ConflictError,
    InstanceExists,
    InstanceNotFound,
    LockTimeout,
    StateStore,
    StoreCorruption,
    StoreError,
    StoreFormatError,
    check_instance_id,
    os_errors_as_store_errors,
    store_io_error,
)
from chatflow.runtime.store.file_blobs import safe_name
from chatflow.runtime.store.file_index import add_to_index
from chatflow.runtime.store.file_layout import stamp
from chatflow.runtime.store.file_listing import all_ids, file_inventory
from chatflow.runtime.store.file_load import (
    Entry,
    FileReader,
)
from chatflow.runtime.store.file_mark import MarkFiles
from chatflow.runtime.store.flock import Flocks, FlockTimeout
from chatflow.runtime.store.journal import encode_commit
from chatflow.runtime.store.records import (
    FORMAT_VERSION,
    Change,
    HistoryEvent,
    Inventory,
    NewEvent,
    Problem,
    RepairReport,
    StateRecord,
    StatusRecord,
    StepRecord,
    apply_delta,
    check_status_changes,
    event_json_problem,
    next_status,
    utc_now,
)

__all__ = ["SNAPSHOT_MIN_BYTES", "Entry", "FileStore", "safe_name"]

SNAPSHOT_MIN_BYTES = 256 * 1024
"""Journal bytes after which a snapshot is considered (it is also at least the
size of the previous snapshot, which keeps snapshot cost amortised O(1))."""
STATUS_LAG_BYTES = 64 * 1024
"""Journal bytes a reader of the status file may have to replay, at most."""
_SNAPSHOT_ON = frozenset({"waiting_approval", "succeeded", "failed", "cancelled"})
_MAX_OPEN_JOURNALS = 64


class _NoJournal(Exception):
    """history.ndjson is missing or not a regular file (raised on the write path)."""


class FileStore(FileReader, StateStore):
    kind = "file"

    def __init__(self, root: str | os.PathLike[str], url: str | None = None, *,
                 check_format: bool = True) -> None:
        FileReader.__init__(self, root)
        self.url = url or f"file:{self.root}"
        self._mutex = threading.RLock()
        self._cache: dict[str, Entry] = {}
        self._fds: dict[str, tuple[int, int]] = {}   # instance → (fd, inode)
        self._marks_out = MarkFiles(_MAX_OPEN_JOURNALS)
        self._flocks = Flocks()
        self._pid = os.getpid()
        self.snapshot_min_bytes = SNAPSHOT_MIN_BYTES
        self._check_location()
        if check_format:
            fmt = self.stored_format()
            if fmt is not None and fmt != FORMAT_VERSION:
                if fmt < FORMAT_VERSION:
                    raise StoreFormatError(
                        f"the state store {self.root} uses format {fmt}; "
                        f"this ChatFlow needs format {FORMAT_VERSION}: run `chatflow migrate`")
                raise StoreFormatError(
                    f"the state store {self.root} uses format {fmt}, newer than this "
                    f"ChatFlow understands ({FORMAT_VERSION}); upgrade ChatFlow")

    def close(self) -> None:
        with self._mutex:
            for fd, _ino in self._fds.values():
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._fds.clear()
            self._marks_out.close()
            self._cache.clear()

    def _after_fork(self) -> None:
        # fds and flocks inherited over fork() belong to the parent.
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._mutex = threading.RLock()
            self._fds = {}
            self._marks_out = MarkFiles(_MAX_OPEN_JOURNALS)
            self._cache = {}
            self._flocks = Flocks()

    # -- journal file handles ---------------------------------------------
    def _journal_fd(self, instance_id: str) -> int:
        cached = self._fds.get(instance_id)
        if cached is not None:
            return cached[0]
        if len(self._fds) >= _MAX_OPEN_JOURNALS:
            for fd, _ in self._fds.values():
                os.close(fd)
            self._fds.clear()
        try:
            fd = os.open(self._hist(instance_id), os.O_WRONLY | os.O_APPEND)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise _NoJournal from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise _NoJournal
        self._fds[instance_id] = (fd, st.st_ino)
        return fd

    def write_mark(self, instance_id: str, entry: Entry) -> None:
        """`.mark` follows the journal's last commit (file_mark.py)."""
        self._marks_out.write(instance_id, str(self.mark_path(instance_id)),
                              entry.offset, entry.status.rev, entry.next_seq)

    def _drop_fd(self, instance_id: str) -> None:
        cached = self._fds.pop(instance_id, None)
        if cached is not None:
            with contextlib.suppress(OSError):
                os.close(cached[0])

    @contextmanager
    def _journal_locked(self, instance_id: str) -> Iterator[int]:
        """The journal's append fd, flock'ed: the critical section of a commit."""
        fd = self._journal_fd(instance_id)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            # The file may have been replaced (by hand, or a restore) since we opened it.
            try:
                same = os.fstat(fd).st_ino == os.stat(self._hist(instance_id)).st_ino
            except (FileNotFoundError, NotADirectoryError):
                fcntl.flock(fd, fcntl.LOCK_UN)
                self._drop_fd(instance_id)
                raise _NoJournal from None
            if not same:
                fcntl.flock(fd, fcntl.LOCK_UN)
                self._drop_fd(instance_id)
                fd = self._journal_fd(instance_id)
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            with contextlib.suppress(OSError):   # closed: the file was replaced
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _refresh(self, instance_id: str, need_state: bool) -> Entry:
        """The cached entry, brought up to date with the journal on disk."""
        check_instance_id(instance_id)
        self._after_fork()
        entry = self._cache.get(instance_id)
        known = None
        if entry is not None:
            try:
                st: os.stat_result | None = os.stat(self._hist(instance_id))
            except (FileNotFoundError, NotADirectoryError):
                st = None
            if st is None or st.st_ino != entry.ino or st.st_size < entry.offset:
                known, entry = entry, None     # replaced, truncated or gone: start over
                self._cache.pop(instance_id, None)
            elif st.st_size != entry.seen_size:
                self._catch_up(instance_id, entry)
        if entry is not None and need_state and entry.state is None:
            entry = None
        if entry is None:
            entry = (None if need_state or known is not None
                     else self._load_status_only(instance_id)) \
                or self.load_full(instance_id, known)
            self._cache[instance_id] = entry
        return entry

    # -- public reads ----------------------------------------------------------
    @os_errors_as_store_errors
    def exists(self, instance_id: str) -> bool:
        """Whether anything of the instance is stored (a damaged one exists too)."""
        check_instance_id(instance_id)
        return any(os.path.lexists(p) for p in (
            self._hist(instance_id), self.state_path(instance_id),
            self.status_path(instance_id)))

    @os_errors_as_store_errors
    def load_status(self, instance_id: str) -> StatusRecord:
        with self._mutex:
            return self._refresh(instance_id, need_state=False).status

    @os_errors_as_store_errors
    def load_state(self, instance_id: str) -> StateRecord:
        with self._mutex:
            entry = self._refresh(instance_id, need_state=True)
            assert entry.state is not None and entry.steps is not None
            return replace(entry.state, steps=dict(entry.steps))

    @os_errors_as_store_errors
    def load_step(self, instance_id: str, step: str) -> StepRecord | None:
        with self._mutex:
            entry = self._refresh(instance_id, need_state=True)
            assert entry.steps is not None
            return entry.steps.get(step)

    def damage(self, instance_id: str) -> Problem | None:
        """The lost-history problem found when the instance was loaded, if any."""
        with self._mutex:
            entry = self._refresh(instance_id, need_state=False)
            return entry.damage

    def list_instances(self, feature_id: str | None = None) -> list[StatusRecord]:
        return self.inventory(feature_id).statuses

    @os_errors_as_store_errors
    def inventory(self, feature_id: str | None = None) -> Inventory:
        return file_inventory(self, feature_id)

    def _all_ids(self, known: Collection[str] = ()) -> set[str]:
        return all_ids(self._instances(), known)

    @os_errors_as_store_errors
    def iter_history(self, instance_id: str, from_seq: int = 1) -> Iterator[HistoryEvent]:
        check_instance_id(instance_id)
        path = self.history_path(instance_id)
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed in the generator
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            if self.exists(instance_id):
                return iter(())     # the loss is reported by check()
            raise InstanceNotFound(instance_id, str(self.root)) from None
        return self._iter_history(f, from_seq)

    @staticmethod
    def _iter_history(f: Any, from_seq: int) -> Iterator[HistoryEvent]:
        with f:
            pending: list[dict[str, Any]] = []
            for raw in f:
                if not raw.endswith(b"\n"):
                    break           # an unfinished commit: not part of history
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue        # reported by check()
                if not isinstance(obj, dict):
                    continue
                if "seq" in obj and event_json_problem(obj) is None:
                    pending.append(obj)
                if "tx" in obj:
                    for ev in pending:
                        if ev["seq"] >= from_seq:
                            yield HistoryEvent.from_json(ev)
                    pending = []

    # -- writing ---------------------------------------------------------------
    @os_errors_as_store_errors
    def create_instance(self, status: StatusRecord, state: StateRecord,
                        events: Sequence[NewEvent] = ()) -> StatusRecord:
        iid = status.instance_id
        check_instance_id(iid)
        if state.instance_id != iid:
            raise StoreError(f"status is for {iid!r} but state is for {state.instance_id!r}")
        self._after_fork()
        self.setup()
        with self._mutex:
            idir = self.instance_dir(iid)
            try:
                idir.mkdir()
            except FileExistsError:
                hist = self.history_path(iid)
                if (hist.exists() and hist.stat().st_size > 0) or os.path.lexists(
                        self.state_path(iid)) or os.path.lexists(self.status_path(iid)):
                    raise InstanceExists(iid) from None
            (idir / "tasks").mkdir(exist_ok=True)
            fd = os.open(self.history_path(iid), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_size > 0:
                    raise InstanceExists(iid)
                now = utc_now()
                evs = _number_events(events, 1, now)
                st1 = replace(status, rev=1, seq=len(evs), created_at=status.created_at or now,
                              updated_at=now, current_steps=tuple(status.current_steps))
                state1 = replace(state, rev=1)
                tx = {"rev": 1, "status": st1.to_json(), "create": state1.to_json()}
                data = encode_commit(evs, tx)
                _write_all(fd, data)
                os.fsync(fd)
                fsync_dir(idir)
                fsync_dir(self._instances())
                ino = os.fstat(fd).st_ino
            finally:
                os.close(fd)
            steps = dict(state1.steps)
            entry = Entry(ino=ino, offset=len(data), seen_size=len(data), status=st1,
                           next_seq=len(evs) + 1, state=replace(state1, steps=steps),
                           steps=steps)
            self.write_snapshot(iid, entry)
            self.write_status(iid, entry, durable=True)
            self._cache[iid] = entry
        if st1.feature_id:
            self.index_add(st1.feature_id, iid)
        return st1

    @os_errors_as_store_errors
    def commit(self, instance_id: str, change: Change,
               expected_rev: int | None = None) -> StatusRecord:
        check_status_changes(change.status)
        with self._mutex:
            self._after_fork()
            entry = self._cache.get(instance_id)
            if entry is None:
                entry = self._refresh(instance_id, need_state=False)
            try:
                if entry.damage is not None:
                    raise StoreCorruption([entry.damage])
                return self._commit_locked(instance_id, change, expected_rev)
            except _NoJournal:
                # Deleted or replaced by a directory since we looked: say what is lost.
                fresh = self.load_full(instance_id, self._cache.pop(instance_id, None))
                self._cache[instance_id] = fresh
                raise StoreCorruption([fresh.damage] if fresh.damage else []) from None

    def _commit_locked(self, instance_id: str, change: Change,
                       expected_rev: int | None) -> StatusRecord:
        with self._journal_locked(instance_id) as fd:
            entry = self._cache[instance_id]
            self._catch_up_for_write(instance_id, entry, fd)
            if entry.damage is not None:
                raise StoreCorruption([entry.damage])
            if expected_rev is not None and expected_rev != entry.status.rev:
                raise ConflictError(instance_id, expected_rev, entry.status.rev)
            now = utc_now()
            evs = _number_events(change.events, entry.next_seq, now)
            last_seq = evs[-1]["seq"] if evs else entry.status.seq
            new_status = next_status(entry.status, change.status, last_seq, now)
            delta = change.delta_json()
            old_status = entry.status.status
            status_json = dumps(new_status.to_json())
            data = encode_commit(evs, {"rev": new_status.rev, "delta": delta},
                                 raw_status=status_json)
            _write_all(fd, data)
            os.fdatasync(fd)
            # durable from here on; now update the caches
            entry.offset += len(data)
            entry.seen_size = entry.offset
            entry.status = new_status
            entry.next_seq += len(evs)
            if entry.state is not None and entry.steps is not None:
                entry.state = apply_delta(entry.state, {"steps": change.steps, **{
                    k: v for k, v in delta.items() if k != "steps"}},
                    new_status.rev, entry.steps)
            # The status file and the snapshot are caches of the journal: failing
            # to rewrite them (a directory in the way, a full disk) must not make
            # a durable commit look failed; loads rebuild them, check() reports.
            try:
                self.write_mark(instance_id, entry)
                snapshot = self._snapshot_due(entry, change.status.get("status"))
                if snapshot:
                    self._snapshot_locked(instance_id, entry)
                if snapshot or new_status.status != old_status or entry.status_offset < 0 \
                        or entry.offset - entry.status_offset >= STATUS_LAG_BYTES:
                    self.write_status(instance_id, entry, durable=False, raw=status_json)
            except OSError:
                pass
            return new_status

    def _catch_up_for_write(self, instance_id: str, entry: Entry, fd: int) -> None:
        """Under the journal lock: apply foreign commits and cut off a torn tail."""
        st = os.fstat(fd)
        if st.st_ino != entry.ino or st.st_size < entry.offset:
            fresh = self.load_full(instance_id, entry)
            self._cache[instance_id] = fresh
            entry.__dict__.update(fresh.__dict__)
            if entry.damage is not None:
                return
        elif st.st_size != entry.offset:
            self._catch_up(instance_id, entry)
        if os.fstat(fd).st_size > entry.offset:
            # Nobody else can be mid-append while we hold the lock: it is torn.
            self.cut_tail(instance_id, fd, entry.offset)
        entry.seen_size = entry.offset

    def cut_tail(self, instance_id: str, fd: int, good: int) -> str:
        """Truncate the journal to `good` bytes, keeping a copy; returns its path."""
        path = self.history_path(instance_id)
        backup = path.with_name(f"history.ndjson.corrupt-{stamp()}")
        shutil.copyfile(path, backup)
        os.ftruncate(fd, good)
        os.fsync(fd)
        return str(backup)

    @contextmanager
    def journal_for_repair(self, instance_id: str) -> Iterator[int]:
        """The journal's fd (created when missing), flock'ed, with this
        process's cache of the instance dropped before and after: `repair`
        rewrites what the cache was built from."""
        with self._mutex:
            self._cache.pop(instance_id, None)
            self._drop_fd(instance_id)
            self.instance_dir(instance_id).mkdir(parents=True, exist_ok=True)
            fd = os.open(self._hist(instance_id), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield fd
            finally:
                os.close(fd)
                self._cache.pop(instance_id, None)

    def _snapshot_due(self, entry: Entry, new_status: str | None) -> bool:
        pending = entry.offset - entry.snap_offset
        if pending <= 0:
            return False
        if new_status in _SNAPSHOT_ON:
            return True
        return entry.snap_offset < 0 or pending >= max(self.snapshot_min_bytes, entry.snap_bytes)

    def _snapshot_locked(self, instance_id: str, entry: Entry) -> None:
        if entry.state is None:
            full = self.load_full(instance_id)
            entry.state, entry.steps = full.state, full.steps
        self.write_snapshot(instance_id, entry)

    def write_snapshot(self, instance_id: str, entry: Entry) -> None:
        assert entry.state is not None and entry.steps is not None
        doc = replace(entry.state, steps=entry.steps).to_json()
        doc.update({"format": FORMAT_VERSION, "journal_offset": entry.offset,
                    "next_seq": entry.next_seq, "status": entry.status.to_json()})
        data = dumps(doc)
        atomic_write(self.state_path(instance_id), data)
        entry.snap_offset = entry.offset
        entry.snap_bytes = len(data)

    def write_status(self, instance_id: str, entry: Entry, *, durable: bool,
                     raw: bytes | None = None) -> None:
        """`raw`: the status already encoded (saves encoding it twice per commit)."""
        body = raw if raw is not None else dumps(entry.status.to_json())
        tail = (f',"format":{FORMAT_VERSION},"journal_offset":{entry.offset},'
                f'"next_seq":{entry.next_seq}}}').encode()
        path = self._hist(instance_id)[:-len("/history.ndjson")] + ".json"
        atomic_write(path, body[:-1] + tail, durable=durable)
        entry.status_offset = entry.offset
        if durable:     # create, repair, migrate, flush: the mark follows
            with contextlib.suppress(OSError):
                self.write_mark(instance_id, entry)

    @os_errors_as_store_errors
    def flush(self, instance_id: str) -> None:
        """Write a fresh snapshot now (e.g. before copying the tree)."""
        with self._mutex:
            entry = self._refresh(instance_id, need_state=False)
            if entry.damage is not None:
                raise StoreCorruption([entry.damage])
            with self._journal_locked(instance_id) as fd:
                entry = self._cache[instance_id]
                self._catch_up_for_write(instance_id, entry, fd)
                self._snapshot_locked(instance_id, entry)
                self.write_status(instance_id, entry, durable=True)

    # -- feature index (file_index.py) -------------------------------------------
    def index_add(self, feature_id: str, instance_id: str) -> None:
        add_to_index(self._index_path(), feature_id, instance_id, self.list_instances)

    # -- locking ---------------------------------------------------------------
    def lock(self, instance_id: str,
             timeout: float | None = None) -> AbstractContextManager[None]:
        check_instance_id(instance_id)
        self._after_fork()
        if not os.path.isdir(self._hist(instance_id)[:-len("/history.ndjson")]):
            raise InstanceNotFound(instance_id, str(self.root))
        return self._lock_cm(instance_id, timeout)

    @contextmanager
    def _lock_cm(self, instance_id: str, timeout: float | None) -> Iterator[None]:
        try:
            cm = self._flocks.hold(self._hist(instance_id)[:-len("history.ndjson")] + ".lock",
                                   timeout)
            cm.__enter__()
        except FlockTimeout:
            raise LockTimeout(instance_id, timeout) from None
        except OSError as exc:
            if isinstance(exc, IsADirectoryError):
                raise StoreError(
                    f"cannot lock instance {instance_id!r}: {self.lock_path(instance_id)} is a "
                    f"directory, not a lock file (`chatflow repair {instance_id}` moves it "
                    "aside)") from None
            raise store_io_error(exc) from None
        try:
            yield
        finally:
            cm.__exit__(None, None, None)

    # -- integrity ---------------------------------------------------------------
    @os_errors_as_store_errors
    def check(self, instance_id: str) -> list[Problem]:
        from chatflow.runtime.store.file_repair import check_instance
        return check_instance(self, instance_id)

    @os_errors_as_store_errors
    def repair(self, instance_id: str) -> RepairReport:
        from chatflow.runtime.store.file_repair import repair_instance
        return repair_instance(self, instance_id)


# -- helpers -------------------------------------------------------------------


def _number_events(events: Sequence[NewEvent], first: int, now: str) -> list[dict[str, Any]]:
    return [{"seq": first + i, "type": e.type, "ts": e.ts or now, "step": e.step,
             "data": dict(e.data)} for i, e in enumerate(events)]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


