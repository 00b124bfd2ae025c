"""The relational model shared by the SQL backends (SQLite, PostgreSQL).

One row per instance (status), one row per instance for inputs/variables/
outputs/children/extra, one row per *step* (so recording a step updates one
row, whatever the number of steps already recorded), one row per history
event, one row per pinned IR document and per artifact.  A commit is one
database transaction.  The schema is an ordered list of migrations
(`sql_schema.py`) applied by an idempotent `setup()` that records each one in
`schema_migrations`.

Subclasses supply the connection, the dialect details (placeholder style,
how to start a write transaction) and the cross-process instance lock.
"""

from __future__ import annotations

import hashlib
import json
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from chatflow.runtime.store.atomic import dumps_str
from chatflow.runtime.store.base import (
    ConflictError,
    InstanceExists,
    InstanceNotFound,
    StateStore,
    StoreCorruption,
    StoreError,
    StoreFormatError,
    check_artifact_name,
    check_instance_id,
    check_step_name,
)
from chatflow.runtime.store.records import (
    ArtifactInfo,
    Change,
    HistoryEvent,
    Inventory,
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
from chatflow.runtime.store.sql_repair import status_from_columns
from chatflow.runtime.store.sql_schema import MIGRATIONS

_PAGE = 500

_PUT_STEP = ("INSERT INTO step_results (instance_id, step, rev, record) VALUES (?, ?, ?, ?) "
             "ON CONFLICT (instance_id, step) DO UPDATE SET rev = excluded.rev, "
             "record = excluded.record")
_INSERT_EVENT = ("INSERT INTO history (instance_id, seq, type, ts, step, data) "
                 "VALUES (?, ?, ?, ?, ?, ?)")


_dumps = dumps_str


@dataclass
class _Cached:
    rev: int
    state: StateRecord | None
    steps: dict[str, StepRecord] | None
    status: StatusRecord | None = None


class SQLStore(StateStore):
    """A `StateStore` over a DB-API connection.  SQL is written with `?`
    placeholders; `_sql()` converts it for the driver."""

    paramstyle_qmark = True

    def __init__(self) -> None:
        self._mutex = threading.RLock()
        self._cache: dict[str, _Cached] = {}
        self._ready = False

    # -- hooks -----------------------------------------------------------------
    @abstractmethod
    def _connection(self, create: bool) -> Any | None:
        """The connection (None when nothing is stored yet and not `create`)."""

    @abstractmethod
    def _begin_write(self, conn: Any) -> None:
        """Start a transaction that excludes other writers."""

    @abstractmethod
    def _where(self) -> str:
        """Where the data lives (for messages)."""

    def _sql(self, sql: str) -> str:
        return sql if self.paramstyle_qmark else sql.replace("?", "%s")

    def _x(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        return conn.execute(self._sql(sql), params)

    def _xmany(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        conn.executemany(self._sql(sql), rows)

    def _rollback(self, conn: Any) -> None:
        conn.execute("ROLLBACK")

    def _commit_tx(self, conn: Any) -> None:
        conn.execute("COMMIT")

    def _blob(self, data: bytes) -> Any:
        return data

    def _migration(self, v: int) -> tuple[str, ...]:
        """The statements of schema migration `v` for this dialect."""
        return MIGRATIONS[v - 1]

    # -- schema ------------------------------------------------------------------
    def setup(self) -> None:
        with self._mutex:
            if self._ready:
                return
            conn = self._connection(create=True)
            assert conn is not None
            self._migrate(conn)
            self._ready = True

    def _migrate(self, conn: Any) -> None:
        self._begin_write(conn)
        try:
            self._x(conn, "CREATE TABLE IF NOT EXISTS schema_migrations "
                          "(v INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
            row = self._x(conn, "SELECT MAX(v) FROM schema_migrations").fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            if current > len(MIGRATIONS):
                raise StoreFormatError(
                    f"{self._where()} has schema version {current}, newer than this ChatFlow "
                    f"understands ({len(MIGRATIONS)}); upgrade ChatFlow")
            for v in range(current + 1, len(MIGRATIONS) + 1):
                for stmt in self._migration(v):
                    self._x(conn, stmt)
                self._x(conn, "INSERT INTO schema_migrations (v, applied_at) VALUES (?, ?)",
                        (v, utc_now()))
            self._commit_tx(conn)
        except BaseException:
            self._rollback(conn)
            raise

    def schema_version(self) -> int:
        with self._mutex:
            conn = self._connection(create=False)
            if conn is None:
                return 0
            try:
                row = self._x(conn, "SELECT MAX(v) FROM schema_migrations").fetchone()
            except Exception:
                self._reset_after_error(conn)
                return 0
            return int(row[0]) if row and row[0] is not None else 0

    def _reset_after_error(self, conn: Any) -> None:
        """After a failed read (hook for drivers that abort the transaction)."""

    def _read_conn(self) -> Any | None:
        conn = self._connection(create=False)
        if conn is not None and not self._ready:
            self.setup()
        return conn

    # -- instances ---------------------------------------------------------------
    def exists(self, instance_id: str) -> bool:
        check_instance_id(instance_id)
        with self._mutex:
            conn = self._read_conn()
            if conn is None:
                return False
            return self._x(conn, "SELECT 1 FROM instances WHERE instance_id = ?",
                           (instance_id,)).fetchone() is not None

    def create_instance(self, status: StatusRecord, state: StateRecord,
                        events: Sequence[NewEvent] = ()) -> StatusRecord:
        iid = status.instance_id
        check_instance_id(iid)
        if state.instance_id != iid:
            raise StoreError(f"status is for {iid!r} but state is for {state.instance_id!r}")
        self.setup()
        with self._mutex:
            conn = self._connection(create=True)
            now = utc_now()
            st1 = replace(status, rev=1, seq=len(events), created_at=status.created_at or now,
                          updated_at=now, current_steps=tuple(status.current_steps))
            self._begin_write(conn)
            try:
                if self._x(conn, "SELECT 1 FROM instances WHERE instance_id = ?",
                           (iid,)).fetchone() is not None:
                    raise InstanceExists(iid)
                self._x(conn, "INSERT INTO instances (instance_id, rev, seq, flow, status, "
                              "feature_id, parent_instance_id, created_at, status_json, inputs, "
                              "variables, outputs, children, ir, extra) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (iid, st1.rev, st1.seq, st1.flow, st1.status, st1.feature_id,
                         st1.parent_instance_id, st1.created_at, _dumps(st1.to_json()),
                         _dumps(dict(state.inputs)), _dumps(dict(state.variables)),
                         _dumps(dict(state.outputs)), _dumps(list(state.children)),
                         None if state.ir_ref is None else _dumps(state.ir_ref.to_json()),
                         _dumps(dict(state.extra))))
                self._put_steps(conn, iid, 1, state.steps.values())
                self._insert_events(conn, iid, events, 1, now)
                self._commit_tx(conn)
            except BaseException:
                self._rollback(conn)
                raise
            steps = dict(state.steps)
            self._cache[iid] = _Cached(1, replace(state, steps=steps, rev=1), steps, st1)
            return st1

    def _put_steps(self, conn: Any, iid: str, rev: int, steps: Iterable[StepRecord]) -> None:
        rows = [(iid, s.name, rev, _dumps(s.to_stored_json())) for s in steps]
        if len(rows) == 1:
            self._x(conn, _PUT_STEP, rows[0])
        elif rows:
            self._xmany(conn, _PUT_STEP, rows)

    def _insert_events(self, conn: Any, iid: str, events: Sequence[NewEvent], first: int,
                       now: str) -> None:
        rows = [(iid, first + i, e.type, e.ts or now, e.step, _dumps(e.data))
                for i, e in enumerate(events)]
        if len(rows) == 1:
            self._x(conn, _INSERT_EVENT, rows[0])
        elif rows:
            self._xmany(conn, _INSERT_EVENT, rows)

    def commit(self, instance_id: str, change: Change,
               expected_rev: int | None = None) -> StatusRecord:
        check_instance_id(instance_id)
        check_status_changes(change.status)
        with self._mutex:
            conn = self._read_conn()
            if conn is None:
                raise InstanceNotFound(instance_id, self._where())
            cached = self._cache.get(instance_id)
            new = None
            if cached is not None and cached.status is not None \
                    and expected_rev in (None, cached.rev):
                new = self._commit_cached(conn, instance_id, change, cached, cached.status)
            if new is None:
                cached, new = self._commit_read(conn, instance_id, change, expected_rev,
                                                self._cache.get(instance_id))
            if cached is None:
                cached = self._cache[instance_id] = _Cached(new.rev, None, None, new)
            else:
                if cached.state is not None and cached.steps is not None:
                    cached.state = apply_delta(cached.state, {
                        "steps": change.steps, "variables": change.variables,
                        "outputs": change.outputs, "extra": change.extra,
                        "children": change.children}, new.rev, cached.steps)
                cached.rev = new.rev
                cached.status = new
            return new

    def _commit_cached(self, conn: Any, iid: str, change: Change, cached: _Cached,
                       old: StatusRecord) -> StatusRecord | None:
        """The common case, four statements: the status row is updated only if
        its rev is still the cached one (`WHERE rev = ?`, so no SELECT first);
        None (and nothing written) when another process committed meanwhile."""
        now = utc_now()
        new = next_status(old, change.status, old.seq + len(change.events), now)
        self._begin_write(conn)
        try:
            sets, params = self._status_sets(conn, iid, change, new, cached)
            params.append(iid)
            params.append(old.rev)
            cur = self._x(conn, f"UPDATE instances SET {', '.join(sets)} "
                                "WHERE instance_id = ? AND rev = ?", params)
            if cur.rowcount != 1:
                self._rollback(conn)
                self._cache.pop(iid, None)
                return None
            self._insert_events(conn, iid, change.events, old.seq + 1, now)
            self._put_steps(conn, iid, new.rev, change.steps)
            self._commit_tx(conn)
        except BaseException:
            self._rollback(conn)
            self._cache.pop(iid, None)
            raise
        return new

    def _commit_read(self, conn: Any, iid: str, change: Change, expected_rev: int | None,
                     cached: _Cached | None) -> tuple[_Cached | None, StatusRecord]:
        """A commit that first reads the current status row (no status cached,
        or someone else committed since).  Returns the cache entry still valid
        for the old rev (None if there is none) and the new status."""
        self._begin_write(conn)
        try:
            row = self._x(conn, "SELECT rev, status_json FROM instances "
                                "WHERE instance_id = ?", (iid,)).fetchone()
            if row is None:
                raise InstanceNotFound(iid, self._where())
            if cached is not None and cached.rev != int(row[0]):
                cached = None
                self._cache.pop(iid, None)
            old = self._status_of_row(iid, row[1])
            if expected_rev is not None and expected_rev != old.rev:
                raise ConflictError(iid, expected_rev, old.rev)
            now = utc_now()
            self._insert_events(conn, iid, change.events, old.seq + 1, now)
            new = next_status(old, change.status, old.seq + len(change.events), now)
            sets, params = self._status_sets(conn, iid, change, new, cached)
            params.append(iid)
            self._x(conn, f"UPDATE instances SET {', '.join(sets)} WHERE instance_id = ?",
                    params)
            self._put_steps(conn, iid, new.rev, change.steps)
            self._commit_tx(conn)
        except BaseException:
            self._rollback(conn)
            self._cache.pop(iid, None)
            raise
        return cached, new

    def _status_sets(self, conn: Any, iid: str, change: Change, new: StatusRecord,
                     cached: _Cached | None) -> tuple[list[str], list[Any]]:
        """SET clauses (and their parameters) of the instance row after `change`."""
        sets = ["rev = ?", "seq = ?", "status_json = ?"]
        params: list[Any] = [new.rev, new.seq, _dumps(new.to_json())]
        for col in ("flow", "status", "feature_id", "parent_instance_id"):
            if col in change.status:
                sets.append(f"{col} = ?")
                params.append(getattr(new, col))
        if change.variables or change.outputs or change.extra or change.children:
            self._state_columns(conn, iid, change, cached, sets, params)
        return sets, params

    def _state_columns(self, conn: Any, iid: str, change: Change, cached: _Cached | None,
                       sets: list[str], params: list[Any]) -> None:
        """SET clauses for the changed state maps (merged into the current ones)."""
        if cached is not None and cached.state is not None:
            base = cached.state
            # the cached maps are only read (merged into new dicts below)
            current: dict[str, Any] = {"variables": base.variables, "outputs": base.outputs,
                                       "extra": base.extra, "children": base.children}
        else:
            row = self._x(conn, "SELECT variables, outputs, extra, children FROM instances "
                                "WHERE instance_id = ?", (iid,)).fetchone()
            current = {"variables": json.loads(row[0]), "outputs": json.loads(row[1]),
                       "extra": json.loads(row[2]), "children": json.loads(row[3])}
        for col, upd in (("variables", change.variables), ("outputs", change.outputs),
                         ("extra", change.extra)):
            if upd:
                sets.append(f"{col} = ?")
                params.append(_dumps({**current[col], **upd}))
        if change.children:
            children = list(current["children"])
            children.extend(c for c in change.children if c not in children)
            sets.append("children = ?")
            params.append(_dumps(children))

    def load_status(self, instance_id: str) -> StatusRecord:
        check_instance_id(instance_id)
        with self._mutex:
            conn = self._read_conn()
            row = None if conn is None else self._x(
                conn, "SELECT rev, status_json FROM instances WHERE instance_id = ?",
                (instance_id,)).fetchone()
            if row is None:
                raise InstanceNotFound(instance_id, self._where())
            cached = self._cache.get(instance_id)
            if cached is not None and cached.rev == row[0]:
                if cached.status is None:
                    cached.status = self._status_of_row(instance_id, row[1])
                return cached.status
            return self._status_of_row(instance_id, row[1])

    def _load_cached(self, instance_id: str) -> _Cached:
        """The cached state, refreshed by reading only rows newer than it."""
        conn = self._read_conn()
        row = None if conn is None else self._x(
            conn, "SELECT rev FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        if row is None:
            raise InstanceNotFound(instance_id, self._where())
        rev = int(row[0])
        cached = self._cache.get(instance_id)
        if cached is not None and cached.state is None:
            cached = None
        if cached is not None and cached.rev == rev:
            return cached
        since = cached.rev if cached is not None and cached.rev < rev else 0
        srow = self._x(conn, "SELECT inputs, variables, outputs, children, ir, extra "
                             "FROM instances WHERE instance_id = ?",
                       (instance_id,)).fetchone()
        steps = cached.steps if cached is not None and cached.steps is not None and since \
            else {}
        for name, record in self._x(conn, "SELECT step, record FROM step_results "
                                          "WHERE instance_id = ? AND rev > ?",
                                    (instance_id, since)).fetchall():
            steps[name] = StepRecord.from_json(json.loads(record))
        ir = json.loads(srow[4]) if srow[4] else None
        state = StateRecord(instance_id, json.loads(srow[0]), json.loads(srow[1]), steps,
                            json.loads(srow[2]), tuple(json.loads(srow[3])),
                            None if ir is None else IRRef.from_json(ir),
                            json.loads(srow[5]), rev)
        cached = _Cached(rev, state, steps)
        self._cache[instance_id] = cached
        return cached

    def load_state(self, instance_id: str) -> StateRecord:
        check_instance_id(instance_id)
        with self._mutex:
            cached = self._load_cached(instance_id)
            assert cached.state is not None and cached.steps is not None
            return replace(cached.state, steps=dict(cached.steps))

    def load_step(self, instance_id: str, step: str) -> StepRecord | None:
        check_instance_id(instance_id)
        with self._mutex:
            conn = self._read_conn()
            if conn is None:
                raise InstanceNotFound(instance_id, self._where())
            row = self._x(conn, "SELECT record FROM step_results WHERE instance_id = ? "
                                "AND step = ?", (instance_id, step)).fetchone()
            if row is None:
                if not self.exists(instance_id):
                    raise InstanceNotFound(instance_id, self._where())
                return None
            return StepRecord.from_json(json.loads(row[0]))

    def list_instances(self, feature_id: str | None = None) -> list[StatusRecord]:
        return self.inventory(feature_id).statuses

    def inventory(self, feature_id: str | None = None) -> Inventory:
        cols = ("SELECT instance_id, rev, seq, flow, status, feature_id, parent_instance_id, "
                "created_at, status_json FROM instances")
        with self._mutex:
            conn = self._read_conn()
            if conn is None:
                return Inventory()
            if feature_id is None:
                rows = self._x(conn, f"{cols} ORDER BY created_at, instance_id").fetchall()
            else:
                rows = self._x(conn, f"{cols} WHERE feature_id = ? "
                                     "ORDER BY created_at, instance_id",
                               (feature_id,)).fetchall()
        out = Inventory()
        for row in rows:
            try:
                out.statuses.append(self._status_of_row(str(row[0]), row[8]))
            except StoreCorruption as exc:
                out.damaged[str(row[0])] = exc.problems
                out.statuses.append(status_from_columns(row))
        return out

    def _status_of_row(self, instance_id: str, status_json: Any) -> StatusRecord:
        """The row's status, or `StoreCorruption` (bad-status) when its
        `status_json` is not a status record (`repair` rebuilds it)."""
        try:
            return StatusRecord.from_json(json.loads(status_json))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise StoreCorruption([Problem(
                instance_id, f"{self._where()}#{instance_id}", "bad-status",
                f"status_json is not a valid status record ({e})")]) from None

    def iter_history(self, instance_id: str, from_seq: int = 1) -> Iterator[HistoryEvent]:
        check_instance_id(instance_id)
        if not self.exists(instance_id):
            raise InstanceNotFound(instance_id, self._where())
        return self._iter_history(instance_id, from_seq)

    def _iter_history(self, instance_id: str, from_seq: int) -> Iterator[HistoryEvent]:
        seq = from_seq
        while True:
            with self._mutex:
                conn = self._read_conn()
                rows = self._x(conn, "SELECT seq, type, ts, step, data FROM history "
                                     "WHERE instance_id = ? AND seq >= ? ORDER BY seq LIMIT ?",
                               (instance_id, seq, _PAGE)).fetchall()
            for r in rows:
                yield HistoryEvent(int(r[0]), r[1], r[2], r[3], json.loads(r[4]))
            if len(rows) < _PAGE:
                return
            seq = int(rows[-1][0]) + 1

    # -- pinned IR -------------------------------------------------------------------
    def pin_ir(self, ir: Mapping[str, Any], flow: str, version: str) -> IRRef:
        doc = canonical_json(ir)
        sha = hashlib.sha256(doc.encode("utf-8")).hexdigest()
        self.setup()
        with self._mutex:
            conn = self._connection(create=True)
            self._begin_write(conn)
            try:
                self._x(conn, "INSERT INTO ir_documents (sha256, flow, version, doc) "
                              "VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                        (sha, flow, version, doc))
                self._commit_tx(conn)
            except BaseException:
                self._rollback(conn)
                raise
        return IRRef(flow, version, sha)

    def load_ir(self, ref: IRRef) -> dict[str, Any]:
        with self._mutex:
            conn = self._read_conn()
            row = None if conn is None else self._x(
                conn, "SELECT doc FROM ir_documents WHERE sha256 = ?",
                (ref.sha256,)).fetchone()
        if row is None:
            raise StoreError(f"pinned IR {ref.key} (sha256 {ref.sha256[:12]}) is missing "
                             f"from {self._where()}")
        text = row[0]
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != ref.sha256:
            raise StoreError(f"pinned IR {ref.key} (sha256 {ref.sha256[:12]}) in "
                             f"{self._where()} is damaged: its text no longer has that sha256")
        doc = json.loads(text)  # the very bytes pinned: they have its sha256
        assert isinstance(doc, dict)
        return doc

    # -- artifacts ---------------------------------------------------------------------
    def put_artifact(self, instance_id: str, step: str, name: str, data: bytes) -> ArtifactInfo:
        return self.put_artifacts(instance_id, step, [(name, data)])[0]

    def put_artifacts(self, instance_id: str, step: str, items: Sequence[tuple[str, bytes]],
                      *, durable: bool = True) -> list[ArtifactInfo]:
        """One transaction for all of them; `durable=False` lets the dialect
        skip the flush (`_begin_lazy_write`): the next durable commit's flush
        covers it, the log being written in order."""
        check_instance_id(instance_id)
        check_step_name(step)
        for name, _data in items:
            check_artifact_name(name)
        if not items:
            return []
        if not self.exists(instance_id):
            raise InstanceNotFound(instance_id, self._where())
        with self._mutex:
            conn = self._connection(create=True)
            end = self._begin_lazy_write(conn) if not durable else None
            if end is None:
                self._begin_write(conn)
            try:
                self._xmany(conn, "INSERT INTO artifacts (instance_id, step, name, data) "
                                  "VALUES (?, ?, ?, ?) ON CONFLICT (instance_id, step, name) "
                                  "DO UPDATE SET data = excluded.data",
                            [(instance_id, step, name, self._blob(data))
                             for name, data in items])
                self._commit_tx(conn)
            except BaseException:
                self._rollback(conn)
                raise
            finally:
                if end is not None:
                    end()
        return [ArtifactInfo(instance_id, step, name, len(data)) for name, data in items]

    def _begin_lazy_write(self, conn: Any) -> Callable[[], None] | None:
        """Start a transaction whose commit need not be flushed, returning
        what restores the connection afterwards; None: not supported here."""
        return None

    def get_artifact(self, instance_id: str, step: str, name: str) -> bytes:
        check_instance_id(instance_id)
        with self._mutex:
            conn = self._read_conn()
            row = None if conn is None else self._x(
                conn, "SELECT data FROM artifacts WHERE instance_id = ? AND step = ? "
                      "AND name = ?", (instance_id, step, name)).fetchone()
        if row is None:
            raise StoreError(f"no artifact {name!r} for step {step!r} of instance "
                             f"{instance_id!r}")
        return bytes(row[0])

    def list_artifacts(self, instance_id: str, step: str | None = None) -> list[ArtifactInfo]:
        check_instance_id(instance_id)
        if not self.exists(instance_id):
            raise InstanceNotFound(instance_id, self._where())
        sql = "SELECT step, name, LENGTH(data) FROM artifacts WHERE instance_id = ?"
        params: list[Any] = [instance_id]
        if step is not None:
            sql += " AND step = ?"
            params.append(step)
        with self._mutex:
            rows = self._x(self._read_conn(), sql + " ORDER BY step, name", params).fetchall()
        return [ArtifactInfo(instance_id, r[0], r[1], int(r[2])) for r in rows]

    # -- integrity -----------------------------------------------------------------------
    def check(self, instance_id: str) -> list[Problem]:
        from chatflow.runtime.store.sql_repair import check_instance
        return check_instance(self, instance_id)

    def repair(self, instance_id: str) -> RepairReport:
        from chatflow.runtime.store.sql_repair import repair_instance
        return repair_instance(self, instance_id)
