"""Lost history, on every backend: the last event vanishes (a journal cut at
a line boundary, a deleted row). `check` finds it, `repair` records the loss
in a `history_lost` event, and no event number is ever reused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from store_helpers import create, record_step

from chatflow.runtime.store import StateStore


def lose_last_event(store: StateStore, backend: str, tmp_path: Path) -> None:
    if backend == "file":
        hist = tmp_path / ".chatflow" / "instances" / "inst-1" / "history.ndjson"
        lines = hist.read_bytes().splitlines(keepends=True)
        hist.write_bytes(b"".join(lines[:-1]))      # the last commit, cut at a line boundary
        return
    conn = store._connection(create=False)  # type: ignore[attr-defined]
    store._begin_write(conn)  # type: ignore[attr-defined]
    store._x(conn, "DELETE FROM history WHERE instance_id = ? AND seq = "  # type: ignore[attr-defined]
                   "(SELECT MAX(seq) FROM history WHERE instance_id = ?)", ("inst-1", "inst-1"))
    store._commit_tx(conn)  # type: ignore[attr-defined]


def test_lost_history_is_found_and_recorded_never_renumbered(
        store: StateStore, store_factory: Callable[[], StateStore], backend: str,
        tmp_path: Path) -> None:
    create(store)
    for i in range(1, 4):
        record_step(store, "inst-1", i)          # events 1..4, rev 4
    lose_last_event(store, backend, tmp_path)
    fresh = store_factory()
    lost = [p for p in fresh.check("inst-1") if p.kind == "lost-history"]
    assert len(lost) == 1, fresh.check("inst-1")
    assert lost[0].lossy and lost[0].repairable
    assert "seq 4" in lost[0].message and "chatflow repair inst-1" in lost[0].message
    report = fresh.repair("inst-1")
    assert report.ok and any("history_lost" in a for a in report.actions), report.actions
    assert fresh.check("inst-1") == []
    events = list(fresh.iter_history("inst-1"))
    assert [e.seq for e in events] == [1, 2, 3, 5]
    assert events[-1].type == "history_lost"
    assert events[-1].data["lost_seqs"] == [[4, 4]]
    st = fresh.load_status("inst-1")
    assert (st.rev, st.seq) == (5, 5)
    assert record_step(fresh, "inst-1", 9) == 6
    assert [e.seq for e in store_factory().iter_history("inst-1")][-1] == 6
    # a sound instance next to it is untouched, and listings show both
    create(fresh, "inst-2")
    assert [s.instance_id for s in fresh.list_instances()] == ["inst-1", "inst-2"]
    assert fresh.inventory().damaged == {}
