"""Raw durable-write baselines and the state stores' per-transition cost.

    python bench/store_raw.py [--dir PATH] [--sizes 10,1000,10000]

`raw_atomic_json_write` and `raw_sqlite_txn` are the costs a durable store
cannot beat on this disk: one fsync'd atomic JSON write (temp file, write,
fsync, rename, directory fsync) and one SQLite WAL transaction with
synchronous=FULL.  `store_transition_cost` records steps through a
`StateStore` (one commit per step: a step record, a variable, an event and a
status change) and reports the cost of the transitions around step 10, 1,000
and 10,000.  bench/runtime.py measures the same through the engine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from chatflow.runtime.store import NewEvent, StateRecord, StatusRecord, StepRecord, open_store
from chatflow.runtime.store.atomic import fsync_dir


class RawAtomicJson:
    """One fsync'd atomic JSON write (temp file, write, fsync, rename, dir fsync)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.i = 0

    def __call__(self) -> float:
        self.i += 1
        t0 = time.perf_counter()
        tmp = self.directory / ".raw.json.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, json.dumps({"step": self.i, "status": "succeeded"}).encode())
        os.fsync(fd)
        os.close(fd)
        os.replace(tmp, self.directory / "raw.json")
        fsync_dir(self.directory)
        return time.perf_counter() - t0


class RawSQLiteTxn:
    """One SQLite WAL transaction with synchronous=FULL."""

    def __init__(self, db: Path) -> None:
        self.con = sqlite3.connect(db, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=FULL")
        self.con.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)")
        self.i = 0

    def __call__(self) -> float:
        self.i += 1
        t0 = time.perf_counter()
        self.con.execute("BEGIN IMMEDIATE")
        self.con.execute("INSERT OR REPLACE INTO t VALUES (?, ?)",
                         (self.i % 1000, '{"status":"succeeded"}'))
        self.con.execute("COMMIT")
        return time.perf_counter() - t0


def raw_atomic_json_write(directory: Path, k: int = 300) -> float:
    """Median seconds of one fsync'd atomic JSON write."""
    op = RawAtomicJson(directory)
    return statistics.median(op() for _ in range(k))


def raw_sqlite_txn(db: Path, k: int = 300) -> float:
    """Median seconds of one SQLite WAL transaction with synchronous=FULL."""
    op = RawSQLiteTxn(db)
    return statistics.median(op() for _ in range(k))


def store_transition_cost(url: str, n: int, raw: Callable[[], float] | None = None,
                          window: int = 50) -> dict[int, tuple[float, float]]:
    """Per checkpoint (10, 1,000, 10,000 when <= n): median seconds of one store
    transition around it, and of the raw operation `raw` run alternately with
    those transitions (so both see the same disk load); 0.0 without `raw`."""
    store = open_store(url)
    iid = "bench"
    store.create_instance(StatusRecord(iid, "chain", "1"), StateRecord(iid, variables={"n": 0}),
                          [NewEvent("instance_started")])
    marks = [at for at in (10, 1000, 10000) if at <= n]
    windows = {at: (max(0, at - window), at + window) for at in marks}
    times: list[float] = []
    raws: dict[int, list[float]] = {at: [] for at in marks}
    rev = 1
    for i in range(n):
        name = f"s{i}"
        for at, (lo, hi) in windows.items():
            if raw is not None and lo <= i < hi:
                raws[at].append(raw())
        t0 = time.perf_counter()
        with store.transaction(iid, rev) as tx:
            tx.put_step(StepRecord(name, "succeeded", 1, {"value": i}))
            tx.set_variables({"n": i + 1})
            tx.append("step_completed", step=name, data={"status": "succeeded"})
            tx.set_status(progress=(i + 1) / n, current_steps=[name])
        times.append(time.perf_counter() - t0)
        assert tx.result is not None
        rev = tx.result.rev
    store.close()
    return {at: (statistics.median(times[lo:hi]),
                 statistics.median(raws[at]) if raws[at] else 0.0)
            for at, (lo, hi) in windows.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default=None, help="a directory on the disk to measure")
    ap.add_argument("--sizes", default="10000")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="cf-store-bench-", dir=args.dir))
    us = 1e6
    n = max(int(x) for x in args.sizes.split(","))
    print(f"{'backend':<8} {'at step':>8} {'us/transition':>14} {'raw us':>9} {'x raw':>7}"
          "   (raw = fsync'd atomic JSON write | SQLite WAL txn, synchronous=FULL,"
          " measured alternately with the transitions)")
    for kind in ("file", "sqlite"):
        if kind == "file":
            url, raw = f"file:{base / 'fs'}", RawAtomicJson(base / "raw")
        else:
            url, raw = f"sqlite:///{base / 'store.db'}", RawSQLiteTxn(base / "raw.db")
        costs = store_transition_cost(url, n, raw)
        for at, (cost, raw_cost) in costs.items():
            print(f"{kind:<8} {at:>8} {cost * us:>14.1f} {raw_cost * us:>9.1f} "
                  f"{cost / raw_cost:>7.2f}")
        first, last = costs[min(costs)][0], costs[max(costs)][0]
        print(f"{kind:<8} step {max(costs)} / step {min(costs)} = {last / first:.2f}")
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
