"""Per-step overhead of the durable engine (issue 3's benchmark).

    python bench/runtime.py [--sizes 10,1000,10000] [--dir PATH]

Runs a linear flow of trivial `set` steps on the `file` and `sqlite`
backends and prints, per backend and size, the mean cost of one durable step,
the cost of steps ~10 and ~N (to show the cost does not grow with history),
next to the raw cost on the same disk of one fsync'd atomic JSON write (temp
file, fsync, rename, directory fsync) and one SQLite WAL transaction with
synchronous=FULL; and LangGraph's per-step cost with its SQLite checkpointer
on the same chain when `langgraph` is importable (`pip install .[bench]`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from chatflow.runtime.engine import Engine
from chatflow.runtime.store import open_store


def chain_ir(n: int) -> dict[str, Any]:
    nodes = []
    for i in range(n):
        nodes.append({
            "id": f"s{i}", "kind": "step", "parent": None,
            "deps": [f"s{i - 1}"] if i else [], "when": None, "optional": False,
            "fields": {},
            "action": {"type": "set", "var": "n",
                       "value": {"op": "+", "args": [{"var": "n"}, {"lit": 1}]}},
            "options": {},
        })
    flow = {"name": "chain", "params": [], "outputs": [], "settings": {},
            "vars": [{"name": "n", "type": "int", "value": {"lit": 0}}], "nodes": nodes}
    return {"ir_version": 1, "entry": "chain", "flows": {"chain": flow}}


def run_chain(url: str, n: int) -> tuple[float, float, float, float]:
    """(mean s/step, median s of steps ~5..55, median s of the last 50 steps,
    CPU s/step)."""
    store = open_store(url)
    engine = Engine(store)
    iid = engine.start(chain_ir(n)).instance_id
    stamps: list[float] = []

    def sink(etype: str, step: str | None, data: Any) -> None:
        if etype == "step_completed":
            stamps.append(time.perf_counter())

    t0 = time.perf_counter()
    c0 = time.process_time()
    result = engine.drive(iid, sink=sink)
    total = time.perf_counter() - t0
    cpu = time.process_time() - c0
    assert result.status == "succeeded", result
    store.close()
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    # medians over a window: single fsyncs are noisy
    early = statistics.median(gaps[5:55]) if len(gaps) >= 55 else statistics.median(gaps)
    late = statistics.median(gaps[-50:])
    return total / n, early, late, cpu / n


def raw_atomic_json(root: Path, k: int = 200) -> float:
    d = root / "raw"
    d.mkdir(exist_ok=True)
    doc = {"name": "s1", "status": "succeeded", "attempts": 1, "outputs": {}, "rev": 0}
    dfd = os.open(d, os.O_RDONLY)
    t0 = time.perf_counter()
    for i in range(k):
        doc["rev"] = i
        tmp = d / "x.json.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, json.dumps(doc).encode())
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp, d / "x.json")
        os.fsync(dfd)
    dt = (time.perf_counter() - t0) / k
    os.close(dfd)
    return dt


def raw_sqlite(root: Path, k: int = 200) -> float:
    con = sqlite3.connect(root / "raw.db", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, doc TEXT)")
    t0 = time.perf_counter()
    for i in range(k):
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO t (doc) VALUES (?)", (json.dumps({"i": i}),))
        con.execute("COMMIT")
    dt = (time.perf_counter() - t0) / k
    con.close()
    return dt


def langgraph_chain(root: Path, n: int) -> float | None:
    root.mkdir(parents=True, exist_ok=True)
    try:
        from langgraph.checkpoint.sqlite import SqliteSaver
        from langgraph.graph import END, START, StateGraph
    except ImportError:
        return None
    from typing import TypedDict

    class S(TypedDict):
        n: int

    g: Any = StateGraph(S)

    def inc(state: S) -> S:
        return {"n": state["n"] + 1}

    for i in range(n):
        g.add_node(f"s{i}", inc)
        g.add_edge(START if i == 0 else f"s{i - 1}", f"s{i}")
    g.add_edge(f"s{n - 1}", END)
    con = sqlite3.connect(root / "lg.db", check_same_thread=False)
    saver = SqliteSaver(con)
    app = g.compile(checkpointer=saver)
    t0 = time.perf_counter()
    app.invoke({"n": 0}, {"configurable": {"thread_id": "1"}, "recursion_limit": n + 10})
    dt = (time.perf_counter() - t0) / n
    con.close()
    return dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,1000,10000")
    ap.add_argument("--dir", default=None, help="where to write (default: a temp dir)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    base = Path(args.dir or tempfile.mkdtemp(prefix="chatflow-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    ms = 1000.0
    print("raw = one fsync'd atomic JSON write (file) / one SQLite WAL txn, synchronous=FULL")
    print("(sqlite), on the same disk, averaged before and after each run; cpu = CPU per step")
    print()
    print(f"{'backend':<8} {'steps':>6} {'ms/step':>9} {'raw ms':>8} {'x raw':>7} "
          f"{'cpu ms':>8} {'step~10':>9} {'step~N':>9} {'N/10':>6}")
    results: dict[tuple[str, int], float] = {}
    for kind in ("file", "sqlite"):
        for n in sizes:
            d = base / f"{kind}-{n}"
            d.mkdir(exist_ok=True)
            url = f"file:{d / 'state'}" if kind == "file" else f"sqlite:///{d / 'state.db'}"
            rawf = raw_atomic_json if kind == "file" else raw_sqlite
            before = rawf(d)
            mean, early, late, cpu = run_chain(url, n)
            raw = (before + rawf(d)) / 2  # the disk's speed drifts: average around the run
            results[(kind, n)] = mean
            print(f"{kind:<8} {n:>6} {mean * ms:9.3f} {raw * ms:8.3f} {mean / raw:7.2f} "
                  f"{cpu * ms:8.3f} {early * ms:9.3f} {late * ms:9.3f} {late / early:6.2f}",
                  flush=True)
    print()
    lg_n = min(max(sizes), 500)
    if langgraph_chain(base / "probe", 2) is None:
        print("langgraph: not installed (pip install .[bench]) — comparison skipped")
        return 0
    # alternate the two, three rounds each, so both see the same disk
    lg_times: list[float] = []
    our_times: list[float] = []
    for r in range(3):
        d = base / f"cmp{r}"
        d.mkdir(exist_ok=True)
        our_times.append(run_chain(f"sqlite:///{d / 'cf.db'}", lg_n)[0])
        lg = langgraph_chain(d, lg_n)
        assert lg is not None
        lg_times.append(lg)
    ours, theirs = statistics.median(our_times), statistics.median(lg_times)
    print(f"{lg_n}-step chain, median of 3 alternating rounds: ChatFlow sqlite "
          f"{ours * ms:.3f} ms/step, LangGraph SqliteSaver {theirs * ms:.3f} ms/step "
          f"-> ChatFlow is {theirs / ours:.1f}x faster per durable step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
