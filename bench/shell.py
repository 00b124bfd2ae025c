"""Per-step cost of a `shell "true"` step against its floor (issue 9, goal 3).

    python bench/shell.py [--steps 100] [--rounds 7] [--dir PATH]

A chain of `shell "true"` steps runs through the engine on the `file` and
`sqlite` backends.  The floor of one step is what it cannot avoid: spawning
`/bin/sh -c true` (subprocess.Popen in its own session, output to a file,
wait) plus one durable commit of the step's bytes (file: append + fdatasync
of the journal's per-step growth; sqlite: one WAL synchronous=FULL INSERT of
those bytes; see bench/floors.py).  Engine run and floor run alternate, in
the same run on the same disk; min and median over rounds.
Goal: engine <= floor + 0.5 ms.  `extra cpu`: the engine's CPU time per step
beyond the floor's (this process only; the child's is not counted).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from alternate import print_goals
from floors import (
    CPU,
    JournalFloor,
    WalFloor,
    engine_per_step,
    floor_per_step,
    journal_bytes_per_step,
    store_url,
)

from chatflow.runtime.engine import Engine
from chatflow.runtime.store import open_store

MS = 1000.0
SHELL_TRUE = {"type": "shell", "command": "true", "bindings": {}}


class SpawnThenCommit:
    """`sh -c true` as the engine spawns it, then one durable commit."""

    def __init__(self, out: Path, commit: JournalFloor | WalFloor) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.commit = commit

    def __call__(self) -> None:
        with open(self.out / "stdout", "wb") as o, open(self.out / "stderr", "wb") as e:
            subprocess.Popen(["/bin/sh", "-c", "true"], stdin=subprocess.DEVNULL, stdout=o,
                             stderr=e, start_new_session=True, close_fds=True).wait()
        self.commit()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--backends", default="file,sqlite")
    ap.add_argument("--dir", default=None)
    args = ap.parse_args(argv)
    base = Path(args.dir or tempfile.mkdtemp(prefix="chatflow-shell-"))
    size = journal_bytes_per_step(base / "probe", 10, SHELL_TRUE)
    print(f"floor = spawn of `sh -c true` + one durable commit of {size} bytes (the file "
          "journal's growth per shell step): file = append + fdatasync, sqlite = one INSERT "
          "in a WAL synchronous=FULL txn")
    print(f"{args.rounds} alternating rounds of {args.steps} steps; ms per step")
    print()
    print(f"{'backend':<8} {'engine min':>10} {'med':>7} {'floor min':>10} {'med':>7} "
          f"{'extra (med)':>12} {'extra cpu':>11}")
    goals: list[tuple[str, bool]] = []
    for kind in args.backends.split(","):
        d = base / kind
        d.mkdir(parents=True, exist_ok=True)
        store = open_store(store_url(kind, d))
        engine = Engine(store)
        commit: JournalFloor | WalFloor = (JournalFloor(d / "floor", size) if kind == "file"
                                           else WalFloor(d / "floor" / "f.db", size))
        floor = SpawnThenCommit(d / "floor-task", commit)
        eng: list[float] = []
        flo: list[float] = []
        extra: list[float] = []
        cpu_extra: list[float] = []
        try:
            engine_per_step(engine, 10, SHELL_TRUE)
            floor_per_step(floor, 10)
            for _ in range(args.rounds):
                e = engine_per_step(engine, args.steps, SHELL_TRUE)
                f = floor_per_step(floor, args.steps)
                eng.append(e)
                flo.append(f)
                extra.append(e - f)
                cpu_extra.append(CPU[-2] - CPU[-1])
        finally:
            commit.close()
            store.close()
        over = statistics.median(extra)
        print(f"{kind:<8} {min(eng) * MS:10.3f} {statistics.median(eng) * MS:7.3f} "
              f"{min(flo) * MS:10.3f} {statistics.median(flo) * MS:7.3f} "
              f"{over * MS:+11.3f} {statistics.median(cpu_extra) * MS:+11.3f}", flush=True)
        goals.append((f"{kind}: shell step <= floor + 0.5 ms ({over * MS:+.3f} ms)",
                      over <= 0.0005))
    print_goals(goals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
