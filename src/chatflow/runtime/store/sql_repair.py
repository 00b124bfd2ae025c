"""`check` and `repair` of one instance of the SQL backends.

Found: `bad-status` (a `status_json` that is not a status record),
`stale-status` (it disagrees with the row's `rev`/`seq`), `bad-step` (an
unreadable step record: not repairable), and `lost-history`: history rows
missing below the instance's `seq` (deleted by hand, a restore of one table)
that no `history_lost` event accounts for.  Commits never renumber on SQL
(the next seq comes from the instance row), so lost rows leave a gap;
`repair` records it in a `history_lost` event (`data.lost_seqs`) and keeps
the old `status_json` in `status.extra["repaired_status_json"]`.  Not
detected: deleted `step_results` rows (no count of them is kept) and a
deleted `instances` row (the instance is gone from every listing).
`status_from_columns` rebuilds a status whose `status_json` is damaged from
the row's own columns, so `list` keeps such an instance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chatflow.runtime.store.atomic import dumps_str
from chatflow.runtime.store.base import InstanceNotFound, check_instance_id
from chatflow.runtime.store.records import (
    INSTANCE_STATUSES,
    LOSS_EVENT,
    Change,
    NewEvent,
    Problem,
    RepairReport,
    StatusRecord,
    StepRecord,
    seq_ranges,
)

if TYPE_CHECKING:
    from chatflow.runtime.store.sql import SQLStore


def _covered(data: Any) -> set[int]:
    """The seqs a `history_lost` event's data says are gone."""
    out: set[int] = set()
    try:
        doc = json.loads(data) if isinstance(data, str | bytes) else data
        for first, last in doc.get("lost_seqs") or ():
            out.update(range(int(first), int(last) + 1))
    except (ValueError, TypeError, AttributeError):
        pass
    return out


def lost_seqs(store: SQLStore, conn: Any, iid: str, top: int) -> list[int]:
    """Seqs 1..top with no history row and no `history_lost` event covering them."""
    present = {int(r[0]) for r in store._x(
        conn, "SELECT seq FROM history WHERE instance_id = ?", (iid,)).fetchall()}
    covered: set[int] = set()
    for (data,) in store._x(conn, "SELECT data FROM history WHERE instance_id = ? "
                                  "AND type = ?", (iid, LOSS_EVENT)).fetchall():
        covered |= _covered(data)
    return [s for s in range(1, top + 1) if s not in present and s not in covered]


def check_instance(store: SQLStore, iid: str) -> list[Problem]:
    check_instance_id(iid)
    where = f"{store._where()}#{iid}"
    with store._mutex:
        conn = store._read_conn()
        row = None if conn is None else store._x(
            conn, "SELECT rev, seq, status_json FROM instances WHERE instance_id = ?",
            (iid,)).fetchone()
        if row is None:
            raise InstanceNotFound(iid, store._where())
        problems: list[Problem] = []
        try:
            st = StatusRecord.from_json(json.loads(row[2]))
            if st.rev != int(row[0]) or st.seq != int(row[1]):
                problems.append(Problem(iid, where, "stale-status",
                                        "status_json disagrees with the rev/seq columns"))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            problems.append(Problem(iid, where, "bad-status",
                                    f"status_json is not a valid status record ({e})"))
        top = int(row[1])
        missing = lost_seqs(store, conn, iid, top)
        if missing:
            problems.append(Problem(
                iid, where, "lost-history",
                f"history rows for event(s) seq {_show(seq_ranges(missing))} of {top} are "
                "missing (deleted?) and cannot be recovered; `chatflow repair "
                f"{iid}` records the loss (new events keep their numbers)", lossy=True))
        beyond = store._x(conn, "SELECT COUNT(*) FROM history WHERE instance_id = ? "
                                "AND seq > ?", (iid, top)).fetchone()
        if int(beyond[0]):
            problems.append(Problem(iid, where, "history-gap",
                                    f"{beyond[0]} history event(s) have a seq above the "
                                    f"instance's seq {top}", repairable=False))
        for name, record in store._x(conn, "SELECT step, record FROM step_results "
                                           "WHERE instance_id = ?", (iid,)).fetchall():
            try:
                StepRecord.from_json(json.loads(record))
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                problems.append(Problem(iid, where, "bad-step",
                                        f"step {name!r}: unreadable record ({e})",
                                        repairable=False))
    return problems


def _show(ranges: list[list[int]]) -> str:
    return ", ".join(f"{a}" if a == b else f"{a}..{b}" for a, b in ranges)


def repair_instance(store: SQLStore, iid: str) -> RepairReport:
    report = RepairReport(iid, check_instance(store, iid))
    kinds = {p.kind for p in report.problems}
    if kinds & {"bad-status", "stale-status"}:
        _rebuild_status(store, iid)
        report.backups.append("the damaged status_json is kept in status.extra"
                              "['repaired_status_json']")
        report.actions.append("rebuilt status_json from the instances row")
    if "lost-history" in kinds:
        with store._mutex:
            conn = store._read_conn()
            before = store.load_status(iid)
            missing = seq_ranges(lost_seqs(store, conn, iid, before.seq))
        message = (f"history events seq {_show(missing)} were lost from the database and "
                   "cannot be recovered; the state was kept whole")
        st = store.commit(iid, Change(events=(NewEvent(LOSS_EVENT, data={
            "lost_revs": [], "lost_seqs": missing, "state_rev": before.rev,
            "journal_copy": None, "message": message}),)))
        report.actions.append(f"recorded the loss as event {st.seq} (`{LOSS_EVENT}`) at rev "
                              f"{st.rev}: {message}")
    return report


def _rebuild_status(store: SQLStore, iid: str) -> None:
    with store._mutex:
        conn = store._connection(create=True)
        store._begin_write(conn)
        try:
            row = store._x(conn, "SELECT rev, seq, flow, status, feature_id, "
                                 "parent_instance_id, created_at, status_json FROM instances "
                                 "WHERE instance_id = ?", (iid,)).fetchone()
            try:
                old = json.loads(row[7])
                base = old if isinstance(old, dict) else {}
            except ValueError:
                base = {}
            base.update({"instance_id": iid, "rev": int(row[0]), "seq": int(row[1]),
                         "flow": row[2], "status": row[3], "feature_id": row[4],
                         "parent_instance_id": row[5], "created_at": row[6]})
            try:
                st = StatusRecord.from_json(base)
            except (ValueError, KeyError, TypeError, AttributeError):
                st = StatusRecord(iid, row[2], status=row[3], feature_id=row[4],
                                  parent_instance_id=row[5], created_at=row[6],
                                  rev=int(row[0]), seq=int(row[1]))
            st = replace(st, extra={**st.extra, "repaired_status_json": row[7]})
            store._x(conn, "UPDATE instances SET status_json = ? WHERE instance_id = ?",
                     (dumps_str(st.to_json()), iid))
            store._commit_tx(conn)
        except BaseException:
            store._rollback(conn)
            raise
        finally:
            store._cache.pop(iid, None)   # same rev, new status_json


def status_from_columns(row: Sequence[Any]) -> StatusRecord:
    """A status rebuilt from an instance row's columns (`instance_id, rev,
    seq, flow, status, feature_id, parent_instance_id, created_at`), for a
    row whose `status_json` is damaged."""
    status = str(row[4]) if row[4] in INSTANCE_STATUSES else "failed"
    return StatusRecord(str(row[0]), str(row[3] or ""), status=status,
                        feature_id=row[5], parent_instance_id=row[6],
                        created_at=str(row[7] or ""), rev=int(row[1]), seq=int(row[2]))
