"""Commands over many instances (issue 9, goal 7): `chatflow list` on 10 and
on 10,000 instances (file and SQLite stores), and `chatflow status --tree`
of an instance that called 1,000 sub-flows.

    python bench/scale.py [--rounds 5] [--baseline SRC] [--dir DIR] [--many 10000]
                          [--children 1000]

Goals: `list` on 10,000 instances ≤ 2x `list` on 10 (each store); `status
--tree` of the 1,000-child fan-out under 1 s. Every row is a whole `python -m
chatflow ...` process (stdout to /dev/null), wall time; rounds alternate over
all rows (and over this tree and `--baseline SRC`, e.g. a copy of main's src,
put first on PYTHONPATH), and the table shows min and median. The floor row
is `python -c pass`; the peer of each 10,000-instance row is the 10-instance
row of the same store, measured in the same rounds. The file store's listing
keeps a cache (`.indexes/list_cache.json`); the `no cache` row deletes it
before each run (the first listing after an upgrade, or after every
instance changed).

The stores are built once into --dir (default /tmp/chatflow-bench-scale)
and reused; building 10,000 file-store instances takes a minute or so.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from alternate import HERE, child_env, table

FAN_FLOW = "flow fan() {{\n{steps}\n}}\n\nflow child(n: int) -> (m: int) {{\n  output m = n\n}}\n"


def build_list_store(url: str, n: int) -> None:
    from chatflow.runtime.store import open_store
    from chatflow.testing.store_records import create

    store = open_store(url)
    have = len(store.list_instances())
    for i in range(have, n):
        create(store, f"inst-{i:06d}", feature=f"F-{i % 7}", flow="feature")


def build_fan(root: Path, children: int) -> str:
    """Run a flow of `children` call steps once; the parent's instance id."""
    marker = root / "fan.id"
    if marker.exists():
        return marker.read_text().strip()
    from chatflow.compiler.api import compile_path
    from chatflow.runtime.api import WorkflowEngine

    steps = "\n".join(f"  step c{i}: call child(n: {i})" for i in range(children))
    (root / "fan.flow").write_text(FAN_FLOW.format(steps=steps), encoding="utf-8")
    res = compile_path(str(root / "fan.flow"))
    assert res.ir is not None, res.diagnostics
    engine = WorkflowEngine.open(f"file:{root / 'fan-state'}", workdir=str(root))
    iid = engine.start_workflow_instance(res.ir).instance_id
    final = engine.run_until_blocked(iid)
    assert final.status == "succeeded", final.status
    marker.write_text(iid)
    return iid


@dataclass
class Row:
    label: str
    argv: list[str]  # after `python -m chatflow`, or a whole command for floors
    goal: str = ""
    whole: bool = False
    before: Path | None = None  # a file to delete before each run
    warm: Path | None = None  # a cache file: when missing, one untimed run first


def timed(row: Row, src: str) -> float:
    if row.before is not None:
        row.before.unlink(missing_ok=True)
    cmd = row.argv if row.whole else [sys.executable, "-m", "chatflow", *row.argv]
    if row.warm is not None and src == HERE and not row.warm.exists():
        # the steady state: every listing leaves the cache behind (another
        # row or the baseline may have removed it)
        subprocess.run(cmd, env=child_env(src), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False, timeout=600)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=child_env(src), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False, timeout=600)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-1000:]!r}")
    return wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--baseline", metavar="SRC")
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "chatflow-bench-scale"))
    ap.add_argument("--many", type=int, default=10000)
    ap.add_argument("--few", type=int, default=10)
    ap.add_argument("--children", type=int, default=1000)
    args = ap.parse_args(argv)
    root = Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    sys.stderr.write(f"building the stores in {root} (once)...\n")
    urls = {}
    for backend in ("file", "sqlite"):
        for n in (args.few, args.many):
            url = f"file:{root / f'file-{n}'}" if backend == "file" \
                else f"sqlite:///{root / f'sqlite-{n}.db'}"
            build_list_store(url, n)
            urls[backend, n] = url
    fan = build_fan(root, args.children)
    fan_url = f"file:{root / 'fan-state'}"

    rows = [Row("floor: python -c pass", [sys.executable, "-c", "pass"], whole=True)]
    for backend in ("file", "sqlite"):
        rows.append(Row(f"list {backend} {args.few}", ["list", "--state", urls[backend, args.few]]))
        cache = root / f"file-{args.many}" / ".indexes" / "list_cache.json"
        rows.append(Row(f"list {backend} {args.many}", ["list", "--state",
                                                        urls[backend, args.many]],
                        goal=f"<= 2x list {backend} {args.few}",
                        warm=cache if backend == "file" else None))
    rows.append(Row(f"list file {args.many}, no cache",
                    ["list", "--state", urls["file", args.many]],
                    before=root / f"file-{args.many}" / ".indexes" / "list_cache.json"))
    rows.append(Row(f"status --tree, {args.children} children",
                    ["status", fan, "--tree", "--state", fan_url], goal="< 1 s"))

    srcs = [("this tree", HERE)] + ([("baseline", args.baseline)] if args.baseline else [])
    times: dict[tuple[str, str], list[float]] = {}
    for r in range(args.rounds):
        for row in rows:
            for name, src in srcs:
                if row.whole and name != "this tree":
                    continue
                w = timed(row, src)
                times.setdefault((row.label, name), []).append(w)
                sys.stderr.write(f"  round {r + 1}/{args.rounds} {row.label} ({name}): "
                                 f"{w:.3f} s\n")

    def med(label: str, name: str) -> float:
        return statistics.median(times[label, name])

    out = []
    verdicts = []
    for row in rows:
        for name, _ in srcs:
            if (row.label, name) not in times:
                continue
            t = times[row.label, name]
            ratio = ""
            met = ""
            if row.goal.startswith("<= 2x"):
                peer = row.goal.removeprefix("<= 2x ")
                x = med(row.label, name) / med(peer, name)
                ratio = f"{x:.2f}x peer"
                met = "yes" if x <= 2 else "NO"
            elif row.goal == "< 1 s":
                met = "yes" if max(t) < 1 else "NO"
            if met and name == "this tree":
                verdicts.append(met == "yes")
            out.append([row.label, name, f"{min(t):.3f}", f"{statistics.median(t):.3f}",
                        ratio, row.goal, met])
    print(f"\nwhole processes, wall s, {args.rounds} alternating rounds "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)\n")
    print(table(["case", "code", "min", "median", "ratio (medians)", "goal", "met"], out))
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
