"""A durable step against the floor of what it must write (issue 9, goal 4).

    python bench/floors.py [--steps 300] [--rounds 5] [--long 10000] [--dir PATH]

A chain of trivial `set` steps runs through the engine on the `file` and
`sqlite` backends; each step costs at least one durable commit of its record.
The floor is measured alternately with the engine, in the same run, on the
same disk, writing *the same bytes*: the engine's journal grows by B bytes per
step (measured, printed), so

- file floor: one `write()` of B bytes appended to an open file + `fdatasync`;
- sqlite floor: one `BEGIN IMMEDIATE; INSERT` of a B-byte row`; COMMIT` on one
  connection in WAL mode with synchronous=FULL.

Rounds alternate engine run / floor run; min and median over rounds.  Then
a `--long`-step chain shows that step ~N costs what step ~10 does.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from alternate import print_goals

from chatflow.runtime.engine import Engine
from chatflow.runtime.store import open_store

MS = 1000.0


def chain_ir(n: int, action: dict[str, Any] | None = None) -> dict[str, Any]:
    act = action or {"type": "set", "var": "n",
                     "value": {"op": "+", "args": [{"var": "n"}, {"lit": 1}]}}
    nodes = [{"id": f"s{i}", "kind": "step", "parent": None,
              "deps": [f"s{i - 1}"] if i else [], "when": None, "optional": False,
              "fields": {}, "action": act, "options": {}} for i in range(n)]
    flow = {"name": "chain", "params": [], "outputs": [], "settings": {},
            "vars": [{"name": "n", "type": "int", "value": {"lit": 0}}], "nodes": nodes}
    return {"ir_version": 1, "entry": "chain", "flows": {"chain": flow}}


class JournalFloor:
    """One append of `size` bytes to an open journal + fdatasync."""

    def __init__(self, directory: Path, size: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(directory / "floor.ndjson", os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                          0o644)
        self.data = b"x" * (size - 1) + b"\n"

    def __call__(self) -> None:
        os.write(self.fd, self.data)
        os.fdatasync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


class WalFloor:
    """One WAL transaction (synchronous=FULL) inserting a `size`-byte row."""

    def __init__(self, db: Path, size: int) -> None:
        db.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(db, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=FULL")
        self.con.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)")
        self.doc = "x" * size

    def __call__(self) -> None:
        self.con.execute("BEGIN IMMEDIATE")
        self.con.execute("INSERT INTO t (v) VALUES (?)", (self.doc,))
        self.con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()


def store_url(kind: str, d: Path) -> str:
    return f"file:{d / 'state'}" if kind == "file" else f"sqlite:///{d / 'state.db'}"


def journal_bytes_per_step(d: Path, n: int, action: dict[str, Any] | None = None) -> int:
    """What the file store's journal grows by per step of the chain."""
    store = open_store(f"file:{d}")
    try:
        engine = Engine(store)
        iid = engine.start(chain_ir(n, action)).instance_id
        before = os.path.getsize(d / "instances" / iid / "history.ndjson")
        engine.drive(iid)
        after = os.path.getsize(d / "instances" / iid / "history.ndjson")
    finally:
        store.close()
    return max(1, (after - before) // n)


def engine_per_step(engine: Engine, n: int, action: dict[str, Any] | None = None,
                    gaps: list[float] | None = None) -> float:
    """Wall seconds per step of one fresh n-step chain (start excluded)."""
    iid = engine.start(chain_ir(n, action)).instance_id
    last = 0.0

    def sink(etype: str, step: str | None, data: Any) -> None:
        nonlocal last
        if etype == "step_completed" and gaps is not None:
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    c0 = time.process_time()
    last = t0 = time.perf_counter()
    result = engine.drive(iid, sink=sink)
    dt = time.perf_counter() - t0
    CPU.append((time.process_time() - c0) / n)
    assert result.status == "succeeded", result
    return dt / n


CPU: list[float] = []
"""The CPU seconds per step of each run of `engine_per_step` / `floor_per_step`."""


def floor_per_step(op: Any, n: int) -> float:
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(n):
        op()
    dt = time.perf_counter() - t0
    CPU.append((time.process_time() - c0) / n)
    return dt / n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--long", type=int, default=10000, help="0 skips the growth check")
    ap.add_argument("--backends", default="file,sqlite")
    ap.add_argument("--dir", default=None)
    args = ap.parse_args(argv)
    base = Path(args.dir or tempfile.mkdtemp(prefix="chatflow-floors-"))
    size = journal_bytes_per_step(base / "probe", 20)
    print(f"floor writes {size} bytes per step (the file journal's growth per `set` step): "
          "file = append + fdatasync, sqlite = one INSERT in a WAL synchronous=FULL txn")
    print(f"{args.rounds} alternating rounds of {args.steps} steps; ms per step")
    print()
    print(f"{'backend':<8} {'engine min':>10} {'med':>7} {'floor min':>10} {'med':>7} "
          f"{'x floor (med)':>14}")
    goals: list[tuple[str, bool]] = []
    limits = {"file": 1.5, "sqlite": 1.3}
    for kind in args.backends.split(","):
        d = base / kind
        d.mkdir(parents=True, exist_ok=True)
        store = open_store(store_url(kind, d))
        engine = Engine(store)
        floor: JournalFloor | WalFloor = (JournalFloor(d / "floor", size) if kind == "file"
                                          else WalFloor(d / "floor" / "f.db", size))
        eng: list[float] = []
        flo: list[float] = []
        ratios: list[float] = []
        try:
            engine_per_step(engine, 20)
            floor_per_step(floor, 20)   # warm both
            for _ in range(args.rounds):
                e = engine_per_step(engine, args.steps)
                f = floor_per_step(floor, args.steps)
                eng.append(e)
                flo.append(f)
                ratios.append(e / f)
        finally:
            floor.close()
            store.close()
        ratio = statistics.median(ratios)
        print(f"{kind:<8} {min(eng) * MS:10.3f} {statistics.median(eng) * MS:7.3f} "
              f"{min(flo) * MS:10.3f} {statistics.median(flo) * MS:7.3f} {ratio:14.2f}",
              flush=True)
        goals.append((f"{kind}: durable step <= {limits[kind]}x its floor ({ratio:.2f}x)",
                      ratio <= limits[kind]))
    if args.long:
        print()
        for kind in args.backends.split(","):
            d = base / f"{kind}-long"
            d.mkdir(parents=True, exist_ok=True)
            store = open_store(store_url(kind, d))
            gaps: list[float] = []
            try:
                engine_per_step(Engine(store), args.long, gaps=gaps)
            finally:
                store.close()
            early = statistics.median(gaps[5:55])
            late = statistics.median(gaps[-50:])
            print(f"{kind:<8} {args.long}-step chain: step ~10 {early * MS:.3f} ms, "
                  f"step ~{args.long} {late * MS:.3f} ms ({late / early:.2f}x)", flush=True)
            goals.append((f"{kind}: step ~{args.long} <= 1.3x step ~10 ({late / early:.2f}x)",
                          late / early <= 1.3))
    print_goals(goals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
