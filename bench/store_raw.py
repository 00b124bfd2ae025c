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
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from chatflow.runtime.store import NewEvent, StateRecord, StatusRecord, StepRecord, open_store
from chatflow.runtime.store.atomic import fsync_dir


def raw_atomic_json_write(directory: Path, k: int = 300) -> float:
    """Median seconds of one fsync'd atomic JSON write."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "raw.json"
    times = []
    for i in range(k):
        t0 = time.perf_counter()
        tmp = directory / ".raw.json.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, json.dumps({"step": i, "status": "succeeded"}).encode())
        os.fsync(fd)
        os.close(fd)
        os.replace(tmp, target)
        fsync_dir(directory)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def raw_sqlite_txn(db: Path, k: int = 300) -> float:
    """Median seconds of one SQLite WAL transaction with synchronous=FULL."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)")
    times = []
    for i in range(k):
        t0 = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT OR REPLACE INTO t VALUES (?, ?)", (i, '{"status":"succeeded"}'))
        con.execute("COMMIT")
        times.append(time.perf_counter() - t0)
    con.close()
    return statistics.median(times)


def store_transition_cost(url: str, n: int, window: int = 50) -> dict[int, float]:
    """Median seconds per transition around step 10, 1,000, ... n (those <= n)."""
    store = open_store(url)
    iid = "bench"
    store.create_instance(StatusRecord(iid, "chain", "1"), StateRecord(iid, variables={"n": 0}),
                          [NewEvent("instance_started")])
    times: list[float] = []
    rev = 1
    for i in range(n):
        name = f"s{i}"
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
    out: dict[int, float] = {}
    for at in (10, 1000, 10000):
        if at <= n:
            lo = max(0, at - window)
            out[at] = statistics.median(times[lo:at + window] or times[lo:])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default=None, help="a directory on the disk to measure")
    ap.add_argument("--sizes", default="10000")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="cf-store-bench-", dir=args.dir))
    raw_file = raw_atomic_json_write(base / "raw")
    raw_sql = raw_sqlite_txn(base / "raw.db")
    us = 1e6
    print(f"raw fsync'd atomic JSON write : {raw_file * us:8.1f} us")
    print(f"raw SQLite WAL txn (FULL)     : {raw_sql * us:8.1f} us")
    print(f"{'backend':<8} {'at step':>8} {'us/transition':>14} {'x raw':>7}")
    n = max(int(s) for s in args.sizes.split(","))
    for kind, raw in (("file", raw_file), ("sqlite", raw_sql)):
        url = f"file:{base / 'fs'}" if kind == "file" else f"sqlite:///{base / 'store.db'}"
        costs = store_transition_cost(url, n)
        for at, cost in costs.items():
            print(f"{kind:<8} {at:>8} {cost * us:>14.1f} {cost / raw:>7.2f}")
        first, last = costs[min(costs)], costs[max(costs)]
        print(f"{kind:<8} step {max(costs)} / step {min(costs)} = {last / first:.2f}")


if __name__ == "__main__":
    main()
