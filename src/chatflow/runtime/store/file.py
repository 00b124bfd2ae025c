"""The `file:` backend: one directory tree of JSON files (docs/state-stores.md).

Durability per transition is one append + fdatasync to `history.ndjson` (the
journal: every commit line carries the new status and the state *delta*).
`state.json` is a snapshot rewritten only when the journal written since the
last snapshot outgrows it (and when the instance stops), so recording a step
costs the same at step 10 and at step 10,000.  `<id>.json` (status) is
rewritten on every commit with an atomic rename but without fsync: it is a
cache of the journal's last commit and is rebuilt from it when stale or
damaged.  Loads are snapshot + replay of the journal after it, cached in
memory and refreshed incrementally when another process appends.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import filelock

from chatflow.runtime.store.atomic import atomic_write, atomic_write_json, dumps, fsync_dir
from chatflow.runtime.store.base import (
    ConflictError,
    InstanceExists,
    InstanceNotFound,
    LockTimeout,
    StateStore,
    StoreCorruption,
    StoreError,
    StoreFormatError,
    check_artifact_name,
    check_instance_id,
    check_step_name,
)
from chatflow.runtime.store.journal import Commit, Scan, encode_commit, scan
from chatflow.runtime.store.records import (
    FORMAT_VERSION,
    ArtifactInfo,
    Change,
    HistoryEvent,
    IRRef,
    NewEvent,
    Problem,
    RepairReport,
    StateRecord,
    StatusRecord,
    StepRecord,
    apply_delta,
    canonical_json,
    check_status_changes,
    next_status,
    utc_now,
)

SNAPSHOT_MIN_BYTES = 256 * 1024
"""Journal bytes after which a snapshot is considered (it is also at least the
size of the previous snapshot, which keeps snapshot cost amortised O(1))."""
_SNAPSHOT_ON = frozenset({"waiting_approval", "succeeded", "failed", "cancelled"})
_MAX_OPEN_JOURNALS = 64


def safe_name(text: str) -> str:
    """A file-name-safe rendering of a flow name or version."""
    return "".join(c if c.isalnum() or c in "._-+" else "_" for c in text) or "_"


@dataclass
class _Entry:
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


class FileStore(StateStore):
    kind = "file"

    def __init__(self, root: str | os.PathLike[str], url: str | None = None, *,
                 check_format: bool = True) -> None:
        self.root = Path(root)
        self.url = url or f"file:{self.root}"
        self._mutex = threading.RLock()
        self._cache: dict[str, _Entry] = {}
        self._fds: dict[str, tuple[int, int]] = {}   # instance → (fd, inode)
        self._locks: dict[str, filelock.FileLock] = {}
        self._pid = os.getpid()
        self._hist_paths: dict[str, str] = {}
        self._ready = False
        self.snapshot_min_bytes = SNAPSHOT_MIN_BYTES
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

    # -- layout ------------------------------------------------------------
    def _instances(self) -> Path:
        return self.root / "instances"

    def status_path(self, instance_id: str) -> Path:
        return self._instances() / f"{instance_id}.json"

    def instance_dir(self, instance_id: str) -> Path:
        return self._instances() / instance_id

    def state_path(self, instance_id: str) -> Path:
        return self.instance_dir(instance_id) / "state.json"

    def history_path(self, instance_id: str) -> Path:
        return self.instance_dir(instance_id) / "history.ndjson"

    def _hist(self, instance_id: str) -> str:
        """history.ndjson as a string (hot path: no pathlib)."""
        path = self._hist_paths.get(instance_id)
        if path is None:
            path = self._hist_paths[instance_id] = str(self.history_path(instance_id))
        return path

    def _index_path(self) -> Path:
        return self.root / ".indexes" / "feature_index.json"

    def stored_format(self) -> int | None:
        """The format recorded in `store.json`; 1 for a v1.0 tree without it;
        None when nothing is stored yet."""
        meta = self.root / "store.json"
        try:
            doc = json.loads(meta.read_bytes())
            return int(doc["format"])
        except FileNotFoundError:
            inst = self._instances()
            if inst.is_dir() and any(p.suffix == ".json" for p in inst.iterdir()):
                return 1
            return None
        except (ValueError, KeyError, TypeError) as e:
            raise StoreFormatError(f"{meta}: unreadable store metadata ({e})") from None

    def setup(self) -> None:
        if self._ready:
            return
        for d in (self.root, self._instances(), self.root / ".indexes", self.root / "schemas"):
            d.mkdir(parents=True, exist_ok=True)
        meta = self.root / "store.json"
        if not meta.exists():
            atomic_write_json(meta, {"format": FORMAT_VERSION})
        self._ready = True

    def close(self) -> None:
        with self._mutex:
            for fd, _ino in self._fds.values():
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._fds.clear()
            self._cache.clear()

    def _after_fork(self) -> None:
        # fds and flocks inherited over fork() belong to the parent.
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._mutex = threading.RLock()
            self._fds = {}
            self._cache = {}
            self._locks = {}

    # -- journal file handles ---------------------------------------------
    def _journal_fd(self, instance_id: str) -> int:
        path = self._hist(instance_id)
        cached = self._fds.get(instance_id)
        if cached is not None:
            return cached[0]
        if not os.path.exists(path):
            raise InstanceNotFound(instance_id, str(self.root))
        if len(self._fds) >= _MAX_OPEN_JOURNALS:
            for fd, _ in self._fds.values():
                os.close(fd)
            self._fds.clear()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._fds[instance_id] = (fd, os.fstat(fd).st_ino)
        return fd

    @contextmanager
    def _journal_locked(self, instance_id: str) -> Iterator[int]:
        """The journal's append fd, flock'ed: the critical section of a commit."""
        fd = self._journal_fd(instance_id)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            # The file may have been replaced (by hand, or a restore) since we opened it.
            if os.fstat(fd).st_ino != os.stat(self._hist(instance_id)).st_ino:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                del self._fds[instance_id]
                fd = self._journal_fd(instance_id)
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    # -- reading -------------------------------------------------------------
    def _read_from(self, instance_id: str, offset: int) -> tuple[bytes, int]:
        with open(self.history_path(instance_id), "rb") as f:
            ino = os.fstat(f.fileno()).st_ino
            f.seek(offset)
            return f.read(), ino

    def _read_snapshot(self, instance_id: str) -> dict[str, Any] | None:
        try:
            doc = json.loads(self.state_path(instance_id).read_bytes())
            if not isinstance(doc, dict):
                return None
            StateRecord.from_json(doc)
            StatusRecord.from_json(doc["status"])
            int(doc["journal_offset"])
            int(doc["next_seq"])
            return doc
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def _load_full(self, instance_id: str) -> _Entry:
        """Snapshot + replay (or the whole journal when the snapshot is unusable)."""
        hpath = self.history_path(instance_id)
        if not hpath.exists():
            raise InstanceNotFound(instance_id, str(self.root))
        snap = self._read_snapshot(instance_id)
        data, ino = self._read_from(instance_id, 0)
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
            result = scan(data, 0)
        steps: dict[str, StepRecord] = dict(state.steps) if state is not None else {}
        for c in result.commits:
            if status is not None and c.rev <= status.rev:
                continue
            state, status = _apply_commit(instance_id, state, steps, c)
        if state is None or status is None:
            problems = [Problem(instance_id, str(hpath), "unreadable",
                                "no complete commit in the journal and no usable snapshot",
                                repairable=False)]
            raise StoreCorruption(problems)
        last_seq = _last_seq(result)
        if last_seq is not None:
            next_seq = last_seq + 1
        elif snap is None:
            next_seq = 1
        return _Entry(ino=ino, offset=result.end, seen_size=size, status=status,
                      next_seq=next_seq, state=replace(state, steps=steps), steps=steps,
                      snap_offset=snap_offset, snap_bytes=snap_bytes)

    def _load_status_only(self, instance_id: str) -> _Entry | None:
        """The fast path: the status file, plus any journal commits after it."""
        try:
            doc = json.loads(self.status_path(instance_id).read_bytes())
            status = StatusRecord.from_json(doc)
            offset = int(doc["journal_offset"])
            next_seq = int(doc["next_seq"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        try:
            size = self.history_path(instance_id).stat().st_size
        except FileNotFoundError:
            raise InstanceNotFound(instance_id, str(self.root)) from None
        if offset > size:
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
            status = StatusRecord.from_json(c.status)
        last = _last_seq(result)
        if last is not None:
            next_seq = last + 1
        return _Entry(ino=ino, offset=result.end, seen_size=offset + len(data),
                      status=status, next_seq=next_seq, snap_offset=-1)

    def _refresh(self, instance_id: str, need_state: bool) -> _Entry:
        """The cached entry, brought up to date with the journal on disk."""
        check_instance_id(instance_id)
        self._after_fork()
        entry = self._cache.get(instance_id)
        if entry is not None:
            try:
                st = self.history_path(instance_id).stat()
            except FileNotFoundError:
                self._cache.pop(instance_id, None)
                raise InstanceNotFound(instance_id, str(self.root)) from None
            if st.st_ino != entry.ino or st.st_size < entry.offset:
                entry = None       # replaced or truncated: start over
            elif st.st_size != entry.seen_size:
                self._catch_up(instance_id, entry)
        if entry is not None and need_state and entry.state is None:
            entry = None
        if entry is None:
            if not self.history_path(instance_id).exists():
                raise InstanceNotFound(instance_id, str(self.root))
            entry = (None if need_state else self._load_status_only(instance_id)) \
                or self._load_full(instance_id)
            self._cache[instance_id] = entry
        return entry

    def _catch_up(self, instance_id: str, entry: _Entry) -> None:
        data, _ino = self._read_from(instance_id, entry.offset)
        result = scan(data, entry.offset)
        for c in result.commits:
            if c.rev <= entry.status.rev:
                continue
            if entry.state is not None and entry.steps is not None:
                entry.state, entry.status = _apply_commit(instance_id, entry.state,
                                                          entry.steps, c)
            else:
                entry.status = StatusRecord.from_json(c.status)
        last = _last_seq(result)
        if last is not None:
            entry.next_seq = last + 1
        entry.offset = result.end
        entry.seen_size = entry.offset + len(result.tail)

    # -- public reads ----------------------------------------------------------
    def exists(self, instance_id: str) -> bool:
        check_instance_id(instance_id)
        return self.history_path(instance_id).exists()

    def load_status(self, instance_id: str) -> StatusRecord:
        with self._mutex:
            return self._refresh(instance_id, need_state=False).status

    def load_state(self, instance_id: str) -> StateRecord:
        with self._mutex:
            entry = self._refresh(instance_id, need_state=True)
            assert entry.state is not None and entry.steps is not None
            return replace(entry.state, steps=dict(entry.steps))

    def load_step(self, instance_id: str, step: str) -> StepRecord | None:
        with self._mutex:
            entry = self._refresh(instance_id, need_state=True)
            assert entry.steps is not None
            return entry.steps.get(step)

    def list_instances(self, feature_id: str | None = None) -> list[StatusRecord]:
        ids: set[str]
        if feature_id is not None:
            index = self._read_index()
            ids = set(index.get(feature_id, [])) if index is not None else self._all_ids()
        else:
            ids = self._all_ids()
        out: list[StatusRecord] = []
        for iid in ids:
            try:
                st = self.load_status(iid)
            except (InstanceNotFound, StoreCorruption):
                continue
            if feature_id is None or st.feature_id == feature_id:
                out.append(st)
        out.sort(key=lambda s: (s.created_at, s.instance_id))
        return out

    def _all_ids(self) -> set[str]:
        inst = self._instances()
        if not inst.is_dir():
            return set()
        return {p.name for p in inst.iterdir()
                if p.is_dir() and not p.name.startswith(".") and (p / "history.ndjson").exists()}

    def iter_history(self, instance_id: str, from_seq: int = 1) -> Iterator[HistoryEvent]:
        check_instance_id(instance_id)
        path = self.history_path(instance_id)
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed in the generator
        except FileNotFoundError:
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
                if "seq" in obj:
                    pending.append(obj)
                if "tx" in obj:
                    for ev in pending:
                        if int(ev["seq"]) >= from_seq:
                            yield HistoryEvent.from_json(ev)
                    pending = []

    # -- writing ---------------------------------------------------------------
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
                if hist.exists() and hist.stat().st_size > 0:
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
            entry = _Entry(ino=ino, offset=len(data), seen_size=len(data), status=st1,
                           next_seq=len(evs) + 1, state=replace(state1, steps=steps),
                           steps=steps)
            self._write_snapshot(iid, entry)
            self._write_status(iid, entry, durable=True)
            self._cache[iid] = entry
        if st1.feature_id:
            self._index_add(st1.feature_id, iid)
        return st1

    def commit(self, instance_id: str, change: Change,
               expected_rev: int | None = None) -> StatusRecord:
        check_status_changes(change.status)
        with self._mutex:
            self._after_fork()
            if instance_id not in self._cache:
                self._refresh(instance_id, need_state=False)
            with self._journal_locked(instance_id) as fd:
                entry = self._cache[instance_id]
                self._catch_up_for_write(instance_id, entry, fd)
                if expected_rev is not None and expected_rev != entry.status.rev:
                    raise ConflictError(instance_id, expected_rev, entry.status.rev)
                now = utc_now()
                evs = _number_events(change.events, entry.next_seq, now)
                last_seq = evs[-1]["seq"] if evs else entry.status.seq
                new_status = next_status(entry.status, change.status, last_seq, now)
                delta = change.delta_json()
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
                self._write_status(instance_id, entry, durable=False, raw=status_json)
                if self._snapshot_due(entry, change.status.get("status")):
                    self._snapshot_locked(instance_id, entry)
                return new_status

    def _catch_up_for_write(self, instance_id: str, entry: _Entry, fd: int) -> None:
        """Under the journal lock: apply foreign commits and cut off a torn tail."""
        st = os.fstat(fd)
        if st.st_ino != entry.ino or st.st_size < entry.offset:
            fresh = self._load_full(instance_id)
            self._cache[instance_id] = fresh
            entry.__dict__.update(fresh.__dict__)
        elif st.st_size != entry.offset:
            self._catch_up(instance_id, entry)
        if os.fstat(fd).st_size > entry.offset:
            # Nobody else can be mid-append while we hold the lock: it is torn.
            self._cut_tail(instance_id, fd, entry.offset)
        entry.seen_size = entry.offset

    def _cut_tail(self, instance_id: str, fd: int, good: int) -> str:
        path = self.history_path(instance_id)
        backup = path.with_name(f"history.ndjson.corrupt-{_stamp()}")
        shutil.copyfile(path, backup)
        os.ftruncate(fd, good)
        os.fsync(fd)
        return str(backup)

    def _snapshot_due(self, entry: _Entry, new_status: str | None) -> bool:
        pending = entry.offset - entry.snap_offset
        if pending <= 0:
            return False
        if new_status in _SNAPSHOT_ON:
            return True
        return entry.snap_offset < 0 or pending >= max(self.snapshot_min_bytes, entry.snap_bytes)

    def _snapshot_locked(self, instance_id: str, entry: _Entry) -> None:
        if entry.state is None:
            full = self._load_full(instance_id)
            entry.state, entry.steps = full.state, full.steps
        self._write_snapshot(instance_id, entry)

    def _write_snapshot(self, instance_id: str, entry: _Entry) -> None:
        assert entry.state is not None and entry.steps is not None
        doc = replace(entry.state, steps=entry.steps).to_json()
        doc.update({"format": FORMAT_VERSION, "journal_offset": entry.offset,
                    "next_seq": entry.next_seq, "status": entry.status.to_json()})
        data = dumps(doc)
        atomic_write(self.state_path(instance_id), data)
        entry.snap_offset = entry.offset
        entry.snap_bytes = len(data)

    def _write_status(self, instance_id: str, entry: _Entry, *, durable: bool,
                      raw: bytes | None = None) -> None:
        """`raw`: the status already encoded (saves encoding it twice per commit)."""
        body = raw if raw is not None else dumps(entry.status.to_json())
        tail = (f',"format":{FORMAT_VERSION},"journal_offset":{entry.offset},'
                f'"next_seq":{entry.next_seq}}}').encode()
        path = self._hist(instance_id)[:-len("/history.ndjson")] + ".json"
        atomic_write(path, body[:-1] + tail, durable=durable)

    def flush(self, instance_id: str) -> None:
        """Write a fresh snapshot now (e.g. before copying the tree)."""
        with self._mutex:
            self._refresh(instance_id, need_state=False)
            with self._journal_locked(instance_id) as fd:
                entry = self._cache[instance_id]
                self._catch_up_for_write(instance_id, entry, fd)
                self._snapshot_locked(instance_id, entry)
                self._write_status(instance_id, entry, durable=True)

    # -- feature index ---------------------------------------------------------
    def _read_index(self) -> dict[str, list[str]] | None:
        try:
            doc = json.loads(self._index_path().read_bytes())
        except FileNotFoundError:
            return {}
        except ValueError:
            return None
        if not isinstance(doc, dict):
            return None
        return {str(k): [str(i) for i in v] for k, v in doc.items() if isinstance(v, list)}

    def _index_add(self, feature_id: str, instance_id: str) -> None:
        path = self._index_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(path.parent / ".lock")):
            index = self._read_index()
            if index is None:
                index = self._rebuild_index()
            ids = index.setdefault(feature_id, [])
            if instance_id not in ids:
                ids.append(instance_id)
                atomic_write_json(path, index)

    def _rebuild_index(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for st in self.list_instances():
            if st.feature_id:
                index.setdefault(st.feature_id, []).append(st.instance_id)
        return index

    # -- locking ---------------------------------------------------------------
    def lock(self, instance_id: str,
             timeout: float | None = None) -> AbstractContextManager[None]:
        check_instance_id(instance_id)
        self._after_fork()
        if not self.instance_dir(instance_id).is_dir():
            raise InstanceNotFound(instance_id, str(self.root))
        return self._lock_cm(instance_id, timeout)

    @contextmanager
    def _lock_cm(self, instance_id: str, timeout: float | None) -> Iterator[None]:
        with self._mutex:
            fl = self._locks.get(instance_id)
            if fl is None:
                fl = filelock.FileLock(str(self.instance_dir(instance_id) / ".lock"))
                self._locks[instance_id] = fl
        try:
            fl.acquire(timeout=-1 if timeout is None else timeout)
        except filelock.Timeout:
            raise LockTimeout(instance_id, timeout) from None
        try:
            yield
        finally:
            fl.release()

    # -- pinned IR ---------------------------------------------------------------
    def _ir_candidates(self, flow: str, version: str, sha: str) -> list[Path]:
        base = f"{safe_name(flow)}@{safe_name(version)}"
        d = self.root / "schemas"
        return [d / f"{base}.json", d / f"{base}.{sha[:16]}.json"]

    def pin_ir(self, ir: Mapping[str, Any], flow: str, version: str) -> IRRef:
        data = canonical_json(ir).encode("utf-8")
        sha = _sha256(data)
        self.setup()
        for path in self._ir_candidates(flow, version, sha):
            try:
                existing = path.read_bytes()
            except FileNotFoundError:
                atomic_write(path, data)
                return IRRef(flow, version, sha)
            if _sha256(existing) == sha:
                return IRRef(flow, version, sha)
        raise StoreError(f"cannot pin IR {flow}@{version}: both schema file names are taken")

    def load_ir(self, ref: IRRef) -> dict[str, Any]:
        differ: list[str] = []
        for path in self._ir_candidates(ref.flow, ref.version, ref.sha256):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            if _sha256(data) == ref.sha256:
                doc = json.loads(data)  # the very bytes pinned: they have its sha256
                assert isinstance(doc, dict)
                return doc
            differ.append(path.name)
        where = self.root / "schemas"
        if differ:
            raise StoreError(f"pinned IR {ref.key} (sha256 {ref.sha256[:12]}) is missing or "
                             f"damaged in {where}: {' and '.join(differ)} "
                             f"{'has' if len(differ) == 1 else 'have'} other content")
        raise StoreError(f"pinned IR {ref.key} (sha256 {ref.sha256[:12]}) is missing from {where}")

    # -- artifacts ---------------------------------------------------------------
    def artifact_dir(self, instance_id: str, step: str) -> Path:
        check_instance_id(instance_id)
        check_step_name(step)
        if not self.instance_dir(instance_id).is_dir():
            raise InstanceNotFound(instance_id, str(self.root))
        d = self.instance_dir(instance_id) / "tasks" / step
        d.mkdir(parents=True, exist_ok=True)
        return d

    def put_artifact(self, instance_id: str, step: str, name: str, data: bytes) -> ArtifactInfo:
        check_artifact_name(name)
        path = self.artifact_dir(instance_id, step) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
        return ArtifactInfo(instance_id, step, name, len(data), str(path))

    def get_artifact(self, instance_id: str, step: str, name: str) -> bytes:
        check_instance_id(instance_id)
        check_step_name(step)
        check_artifact_name(name)
        path = self.instance_dir(instance_id) / "tasks" / step / name
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise StoreError(f"no artifact {name!r} for step {step!r} of instance "
                             f"{instance_id!r}") from None

    def list_artifacts(self, instance_id: str, step: str | None = None) -> list[ArtifactInfo]:
        check_instance_id(instance_id)
        tasks = self.instance_dir(instance_id) / "tasks"
        if not self.instance_dir(instance_id).is_dir():
            raise InstanceNotFound(instance_id, str(self.root))
        if step is not None:
            check_step_name(step)
        steps = [tasks / step] if step is not None else sorted(
            p for p in (tasks.iterdir() if tasks.is_dir() else ()) if p.is_dir())
        out: list[ArtifactInfo] = []
        for sdir in steps:
            if not sdir.is_dir():
                continue
            for path in sorted(sdir.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    out.append(ArtifactInfo(instance_id, sdir.name,
                                            path.relative_to(sdir).as_posix(),
                                            path.stat().st_size, str(path)))
        return out

    # -- integrity ---------------------------------------------------------------
    def check(self, instance_id: str) -> list[Problem]:
        check_instance_id(instance_id)
        hpath = self.history_path(instance_id)
        if not self.instance_dir(instance_id).is_dir() and not self.status_path(
                instance_id).exists():
            raise InstanceNotFound(instance_id, str(self.root))
        problems: list[Problem] = []
        try:
            data = hpath.read_bytes()
        except FileNotFoundError:
            return [Problem(instance_id, str(hpath), "missing", "the history journal is "
                            "missing; the instance cannot be rebuilt", repairable=False)]
        result = scan(data)
        for off, why in result.bad_lines:
            line_no = data.count(b"\n", 0, off) + 1
            problems.append(Problem(instance_id, str(hpath), "corrupt-line",
                                    f"line {line_no}: {why}", repairable=False))
        if result.tail:
            line_no = data.count(b"\n", 0, result.end) + 1
            problems.append(Problem(
                instance_id, str(hpath), "torn-tail",
                f"the last {len(result.tail)} byte(s) from line {line_no} are an unfinished "
                "commit (a crash mid-append); they will be dropped, a .corrupt copy kept"))
        last = result.commits[-1] if result.commits else None
        snap = self._read_snapshot(instance_id)
        spath = self.state_path(instance_id)
        if snap is None:
            what = "missing" if not spath.exists() else "not a valid state snapshot"
            problems.append(Problem(instance_id, str(spath), "bad-state",
                                    f"state.json is {what}; it will be rebuilt from history",
                                    repairable=bool(result.commits)
                                    and result.commits[0].create is not None))
        snap_rev = int(snap["rev"]) if snap is not None else 0
        true_rev = max(snap_rev, last.rev if last else 0)
        spath2 = self.status_path(instance_id)
        try:
            doc = json.loads(spath2.read_bytes())
            st = StatusRecord.from_json(doc)
            int(doc["journal_offset"])
            if st.rev != true_rev:
                problems.append(Problem(instance_id, str(spath2), "stale-status",
                                        f"status is at rev {st.rev} but the journal is at "
                                        f"rev {true_rev}; it will be rebuilt"))
        except FileNotFoundError:
            problems.append(Problem(instance_id, str(spath2), "bad-status",
                                    "the status file is missing; it will be rebuilt"))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            problems.append(Problem(instance_id, str(spath2), "bad-status",
                                    f"the status file is not a valid status record ({e}); "
                                    "it will be rebuilt from state and history"))
        return problems

    def repair(self, instance_id: str) -> RepairReport:
        report = RepairReport(instance_id, self.check(instance_id))
        if not report.problems or not report.ok:
            return report
        kinds = {p.kind for p in report.problems}
        with self._mutex:
            self._cache.pop(instance_id, None)
            with self._journal_locked(instance_id) as fd:
                stamp = _stamp()
                if "torn-tail" in kinds:
                    data, _ = self._read_from(instance_id, 0)
                    good = scan(data).end
                    report.backups.append(self._cut_tail(instance_id, fd, good))
                    report.actions.append(f"dropped the unfinished tail of history.ndjson "
                                          f"after byte {good}")
                for name, kind in ((self.state_path(instance_id), "bad-state"),
                                   (self.status_path(instance_id), "bad-status"),
                                   (self.status_path(instance_id), "stale-status")):
                    if kind in kinds and name.exists():
                        backup = name.with_name(f"{name.name}.corrupt-{stamp}")
                        if not backup.exists():
                            shutil.copyfile(name, backup)
                            report.backups.append(str(backup))
                if "bad-state" in kinds:
                    self.state_path(instance_id).unlink(missing_ok=True)
                entry = self._load_full(instance_id)
                self._write_snapshot(instance_id, entry)
                self._write_status(instance_id, entry, durable=True)
                self._cache[instance_id] = entry
                report.actions.append(f"rewrote state.json and the status file at rev "
                                      f"{entry.status.rev}")
        if entry.status.feature_id:
            self._index_add(entry.status.feature_id, instance_id)
        return report


# -- helpers -------------------------------------------------------------------


def _apply_commit(instance_id: str, state: StateRecord | None, steps: dict[str, StepRecord],
                  c: Commit) -> tuple[StateRecord, StatusRecord]:
    status = StatusRecord.from_json(c.status)
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


def _last_seq(result: Scan) -> int | None:
    for c in reversed(result.commits):
        if c.events:
            return int(c.events[-1]["seq"])
    return None


def _number_events(events: Sequence[NewEvent], first: int, now: str) -> list[dict[str, Any]]:
    return [{"seq": first + i, "type": e.type, "ts": e.ts or now, "step": e.step,
             "data": dict(e.data)} for i, e in enumerate(events)]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{os.getpid()}"
