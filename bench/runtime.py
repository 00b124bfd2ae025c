"""Per-step overhead of the durable engine (issue 3), the whole process and DBOS (issue 9).

    python bench/runtime.py [--part all|steps|process] [--sizes 10,1000,10000] [--dir PATH]
                            [--lg-steps N] [--process-steps N] [--process-rounds R]
                            [--baseline SRC]

Whole process (issue 9, goal 2): `chatflow run` of an N-step chain of `set`
steps (a .flow file; the same chain as below) as a process, spawn to exit, on
`file` and `sqlite`, next to the API's cost for the same chain in this
process (compile_flow + start + run_until_blocked) plus one start-up
(`chatflow run` of a one-step flow); then DBOS Transact (`pip install
.[bench]`), a workflow of N `@DBOS.step()` calls with a SQLite system
database, run in a process of its own in the same alternating rounds, per
step against ChatFlow's start + run on SQLite. `--baseline SRC` adds the
whole-process rows of another source tree (e.g. main's src/).

Runs a linear flow of trivial `set` steps through the real engine on the
`file` and `sqlite` backends and prints, per backend and size, the cost of one
durable step (total wall time / steps), next to the raw cost on the same disk
of one fsync'd atomic JSON write (temp file, write, fsync, rename, directory
fsync) and of one SQLite transaction in WAL mode with synchronous=FULL.

Fairness: the raw operation runs *alternately* with the engine's steps, in the
same run: after a step's commit has returned (the step is durable), the event
sink performs one raw operation in a sibling directory / database, timed on
its own and subtracted from the engine's time.  Both therefore see the same
disk at the same moment.  The raw SQLite database keeps one connection, like
the store, so both go through the same WAL growth and checkpoints.

Then, when `langgraph` is importable (`pip install .[bench]`), ChatFlow's
SQLite backend and LangGraph's `SqliteSaver` run the same chain in alternating
rounds.  LangGraph is made durable per step: `durability="sync"` (its default,
"async", writes a step's checkpoint while the next step already runs) and WAL
with synchronous=FULL (the settings its `setup()` and SQLite's defaults give;
printed).  Its default mode is reported too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alternate import process_env

from chatflow.runtime.engine import Engine
from chatflow.runtime.store import open_store

MS = 1000.0


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


# -- the raw baselines --------------------------------------------------------------

class RawAtomicJson:
    """One fsync'd atomic JSON write: temp file, write, fsync, rename, dir fsync."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.dfd = os.open(directory, os.O_RDONLY)
        self.i = 0

    def __call__(self) -> None:
        self.i += 1
        doc = {"name": f"s{self.i}", "status": "succeeded", "attempts": 1, "rev": self.i}
        tmp = self.directory / "x.json.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, json.dumps(doc).encode())
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp, self.directory / "x.json")
        os.fsync(self.dfd)

    def close(self) -> None:
        os.close(self.dfd)


class RawSQLiteTxn:
    """One SQLite transaction (one small row) in WAL mode with synchronous=FULL."""

    def __init__(self, db: Path) -> None:
        self.con = sqlite3.connect(db, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=FULL")
        self.con.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, doc TEXT)")
        self.i = 0

    def __call__(self) -> None:
        self.i += 1
        self.con.execute("BEGIN IMMEDIATE")
        self.con.execute("INSERT INTO t (doc) VALUES (?)",
                         (json.dumps({"name": f"s{self.i}", "status": "succeeded"}),))
        self.con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()


# -- the engine, alternating with the raw operation ------------------------------------

@dataclass
class ChainRun:
    steps: int = 0
    wall: float = 0.0          # engine wall time, raw operations excluded
    cpu: float = 0.0           # engine CPU time, raw operations excluded
    raw_wall: float = 0.0
    raw_count: int = 0
    gaps: list[float] = field(default_factory=list)   # per step, first round

    @property
    def per_step(self) -> float:
        return self.wall / self.steps

    @property
    def raw(self) -> float:
        return self.raw_wall / self.raw_count if self.raw_count else math.nan

    def window(self, which: str) -> float:
        g = self.gaps
        if len(g) < 60:
            return statistics.median(g)
        # medians over 50 steps: a single fsync is noisy
        return statistics.median(g[5:55] if which == "early" else g[-50:])


def run_chain(url: str, n: int, raw: Callable[[], None] | None = None, *, rounds: int = 1,
              raw_every: int = 1) -> ChainRun:
    """Drive `rounds` fresh instances of the n-step chain on one store.  With
    `raw`, one raw operation follows every `raw_every`-th durable step."""
    store = open_store(url)
    engine = Engine(store)
    out = ChainRun()
    try:
        for r in range(rounds):
            _drive_once(engine, n, raw, raw_every, out, out.gaps if r == 0 else None)
    finally:
        store.close()
    return out


def _drive_once(engine: Engine, n: int, raw: Callable[[], None] | None, raw_every: int,
                out: ChainRun, gaps: list[float] | None) -> None:
    iid = engine.start(chain_ir(n)).instance_id
    count = 0
    raw_wall = raw_cpu = 0.0
    last = 0.0

    def sink(etype: str, step: str | None, data: Any) -> None:
        nonlocal count, raw_wall, raw_cpu, last
        if etype != "step_completed":
            return
        now = time.perf_counter()
        if gaps is not None:
            gaps.append(now - last)
        count += 1
        if raw is not None and count % raw_every == 0:
            c0 = time.process_time()
            raw()
            done = time.perf_counter()
            raw_cpu += time.process_time() - c0
            raw_wall += done - now
            out.raw_count += 1
            last = done
        else:
            last = time.perf_counter()

    c0 = time.process_time()
    last = t0 = time.perf_counter()
    result = engine.drive(iid, sink=sink)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    assert result.status == "succeeded", result
    assert count == n, (count, n)
    out.steps += n
    out.wall += wall - raw_wall
    out.cpu += cpu - raw_cpu
    out.raw_wall += raw_wall


# -- LangGraph ---------------------------------------------------------------------

@dataclass
class LangGraphRun:
    per_step: float
    cpu: float
    journal_mode: str
    synchronous: int


def langgraph_installed() -> bool:
    try:
        import langgraph.checkpoint.sqlite
        import langgraph.graph  # noqa: F401
    except ImportError:
        return False
    return True


def langgraph_app(root: Path, n: int) -> tuple[Any, sqlite3.Connection]:
    """The n-node chain of trivial nodes, compiled with a SqliteSaver in `root`."""
    from typing import TypedDict

    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, StateGraph

    root.mkdir(parents=True, exist_ok=True)

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
    saver.setup()                               # its own settings: WAL
    con.execute("PRAGMA synchronous=FULL")      # SQLite's default; stated, for certain
    return g.compile(checkpointer=saver), con


class LangGraphStepper:
    """LangGraph running the chain one durable step per call: with
    `durability="sync"` a node's update is streamed once its checkpoint is
    committed, so each call returns with one more step durable."""

    def __init__(self, root: Path, n: int) -> None:
        self.n = n
        self.app, self.con = langgraph_app(root, n)
        self.journal_mode = str(self.con.execute("PRAGMA journal_mode").fetchone()[0])
        self.synchronous = int(self.con.execute("PRAGMA synchronous").fetchone()[0])
        self.gen = iter(self.app.stream(
            {"n": 0}, {"configurable": {"thread_id": "1"}, "recursion_limit": n + 10},
            durability="sync", stream_mode="updates"))
        self.steps = 0
        self.cpu = 0.0

    def __call__(self) -> None:
        c0 = time.process_time()
        next(self.gen)
        self.cpu += time.process_time() - c0
        self.steps += 1

    def finish(self) -> float:
        """Run what is left; returns its wall time."""
        t0 = time.perf_counter()
        c0 = time.process_time()
        for _ in self.gen:
            self.steps += 1
        self.cpu += time.process_time() - c0
        assert self.steps == self.n, (self.steps, self.n)
        self.con.close()
        return time.perf_counter() - t0


def langgraph_chain(root: Path, n: int, durability: str | None = "sync") -> LangGraphRun:
    """LangGraph's per-step cost on the chain, run on its own."""
    app, con = langgraph_app(root, n)
    mode = str(con.execute("PRAGMA journal_mode").fetchone()[0])
    sync = int(con.execute("PRAGMA synchronous").fetchone()[0])
    kwargs: dict[str, Any] = {} if durability is None else {"durability": durability}
    config = {"configurable": {"thread_id": "1"}, "recursion_limit": n + 10}
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = app.invoke({"n": 0}, config, **kwargs)
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    assert out["n"] == n, out
    con.close()
    return LangGraphRun(dt / n, cpu / n, mode, sync)


def compare_langgraph(d: Path, n: int) -> tuple[float, LangGraphRun]:
    """ChatFlow's SQLite backend and LangGraph's SqliteSaver on the same n-step
    chain, step for step: after each ChatFlow step has committed, LangGraph
    runs one step (timed apart).  (ChatFlow s/step, LangGraph run)."""
    lg = LangGraphStepper(d / "lg", n)
    run = run_chain(f"sqlite:///{d / 'cf.db'}", n, lg)
    rest = lg.finish()
    return run.per_step, LangGraphRun((run.raw_wall + rest) / n, lg.cpu / n,
                                      lg.journal_mode, lg.synchronous)


# -- the whole process (issue 9, goal 2) and DBOS Transact ---------------------------------

ENTRY = "import sys; from chatflow.__main__ import main; sys.exit(main())"

DBOS_SCRIPT = r'''
import json, logging, sqlite3, sys, time
logging.disable(logging.INFO)
from dbos import DBOS
path, n = sys.argv[1], int(sys.argv[2])
DBOS(config={"name": "chatflow-bench", "system_database_url": f"sqlite:///{path}"})

@DBOS.step()
def inc(x: int) -> int:
    return x + 1

@DBOS.workflow()
def chain(k: int) -> int:
    x = 0
    for _ in range(k):
        x = inc(x)
    return x

DBOS.launch()
t0, c0 = time.perf_counter(), time.process_time()
assert chain(n) == n
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
DBOS.destroy()
con = sqlite3.connect(path)
mode = con.execute("PRAGMA journal_mode").fetchone()[0]
print(json.dumps({"wall": wall, "cpu": cpu, "journal_mode": mode}))
'''


def chain_source(n: int) -> str:
    """The n-step chain of `set` steps as a .flow file (the IR of `chain_ir`)."""
    lines = ["flow chain() {", "  var n: int = 0"]
    lines += [f"  step s{i}{f' after s{i - 1}' if i else ''}: set n = n + 1" for i in range(n)]
    return "\n".join([*lines, "}"]) + "\n"


def cli_run(flow: Path, url: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU: user + system) of `chatflow run FLOW --state URL`, spawn to exit."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", ENTRY, "run", str(flow), "--state", url],
                          env=env, cwd=flow.parent, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"chatflow run {flow} exited {proc.returncode}: "
                         f"{proc.stderr.decode(errors='replace')[-400:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return took, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


API_SCRIPT = r'''
import json, sys, time
from chatflow.runtime.api import WorkflowEngine, compile_flow
from chatflow.runtime.store import open_store
flow, url = sys.argv[1], sys.argv[2]
t0, c0 = time.perf_counter(), time.process_time()
compiled = compile_flow(flow)
t1, c1 = time.perf_counter(), time.process_time()
engine = WorkflowEngine(open_store(url))
iid = engine.start_workflow_instance(compiled).instance_id
result = engine.run_until_blocked(iid)
t2, c2 = time.perf_counter(), time.process_time()
engine.engine.store.close()
assert result.status == "succeeded", result
print(json.dumps([t1 - t0, t2 - t1, c1 - c0, c2 - c1]))
'''


def api_run(flow: Path, url: str, env: dict[str, str]) -> tuple[float, float, float, float]:
    """(compile_flow, start + run_until_blocked) wall times, then the same two
    CPU times, through the Python
    API, timed inside a fresh interpreter (its start-up and imports not timed),
    as the `chatflow run` process runs on a fresh one."""
    proc = subprocess.run([sys.executable, "-c", API_SCRIPT, str(flow), url], env=env,
                          cwd=flow.parent, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"the API run of {flow} failed: {proc.stderr[-400:]}")
    compile_s, run_s, compile_cpu, run_cpu = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(compile_s), float(run_s), float(compile_cpu), float(run_cpu)


def dbos_installed() -> str | None:
    """None when DBOS Transact can be imported, else why not."""
    proc = subprocess.run([sys.executable, "-c", "import dbos"], capture_output=True,
                          text=True, check=False)
    if proc.returncode == 0:
        return None
    return (proc.stderr.strip().splitlines() or ["import dbos failed"])[-1]


def dbos_run(db: Path, n: int) -> dict[str, Any]:
    """DBOS Transact: one workflow of n `@DBOS.step()` calls, SQLite system
    database at `db`; the workflow's wall and CPU time (launch not timed)."""
    proc = subprocess.run([sys.executable, "-c", DBOS_SCRIPT, str(db), str(n)],
                          capture_output=True, text=True, check=False, env=process_env(),
                          timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-600:])
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _url(d: Path, name: str, kind: str) -> str:
    return f"file:{d / name}" if kind == "file" else f"sqlite:///{d / (name + '.db')}"


def _mm(values: list[float]) -> str:
    return f"{min(values) * MS:8.1f} {statistics.median(values) * MS:8.1f}"


def whole_process(base: Path, n: int, rounds: int, backends: list[str],
                  baseline: str | None, goals: list[tuple[str, bool]]) -> None:
    """`chatflow run` of the n-step chain as a process, next to the API on the
    same chain plus one start-up (`chatflow run` of a one-step flow), and DBOS
    Transact's workflow of n steps on SQLite, in alternating rounds."""
    base.mkdir(parents=True, exist_ok=True)
    flow, one = base / "chain.flow", base / "one.flow"
    flow.write_text(chain_source(n), encoding="utf-8")
    one.write_text(chain_source(1), encoding="utf-8")
    versions = {"now": process_env(str(Path(__file__).resolve().parent.parent / "src"))}
    if baseline:
        versions["base"] = process_env(baseline)
    why_not = dbos_installed()
    t: dict[str, list[float]] = {}
    journal_mode = "?"

    def add(key: str, value: float) -> None:
        t.setdefault(key, []).append(value)

    for r in range(rounds + 1):  # round 0 warms up (bytecode caches, page cache)
        d = base / f"round{r}"
        got: dict[str, float] = {}
        for kind in backends:
            for version, env in versions.items():
                got[f"{kind} cli {version}"], got[f"{kind} cli cpu {version}"] = cli_run(
                    flow, _url(d, f"cli-{version}", kind), env)
                got[f"{kind} start {version}"], got[f"{kind} start cpu {version}"] = cli_run(
                    one, _url(d, f"one-{version}", kind), env)
            c, run_s, c_cpu, run_cpu = api_run(flow, _url(d, "api", kind), versions["now"])
            got[f"{kind} compile"], got[f"{kind} run"] = c, run_s
            got[f"{kind} api"], got[f"{kind} api cpu"] = c + run_s, c_cpu + run_cpu
            got[f"{kind} run cpu"] = run_cpu
        if why_not is None:
            try:
                dbos = dbos_run(d / "dbos.db", n)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                why_not = f"DBOS failed to run here: {exc}"
            else:
                got["dbos"], got["dbos cpu"] = dbos["wall"], dbos["cpu"]
                journal_mode = str(dbos["journal_mode"])
        if r == 0:
            continue
        for key, value in got.items():
            add(key, value)
        for kind in backends:
            for version in versions:
                for m in ("", " cpu"):
                    add(f"{kind} ratio{m} {version}", got[f"{kind} cli{m} {version}"] / (
                        got[f"{kind} api{m}"] + got[f"{kind} start{m} {version}"]))
        if "dbos" in got and "sqlite run" in got:
            add("dbos ratio", got["dbos"] / got["sqlite run"])
            add("dbos ratio cpu", got["dbos cpu"] / got["sqlite run cpu"])
    med = statistics.median
    print(f"whole process: `chatflow run` of a {n}-step chain of `set` steps, spawn to exit, "
          f"{rounds} alternating rounds after a warm-up (ms: min, median)")
    print("  api = compile_flow + start_workflow_instance + run_until_blocked, timed inside a")
    print("        fresh interpreter (its start-up not timed);")
    print("  start-up = `chatflow run` of a one-step flow (a process);")
    print("  ratio = cli / (api + start-up) within each round (the same moment on a shared")
    print("          disk): median and max over the rounds, wall and CPU; goal: <= 1.3")
    print()
    print(f"{'backend':<8} {'code':<5} {'cli':>17} {'api':>17} {'start-up':>17} "
          f"{'ratio wall':>17} {'ratio cpu':>17}")
    for kind in backends:
        api, run_t = t[f"{kind} api"], t[f"{kind} run"]
        for version in versions:
            cli, start = t[f"{kind} cli {version}"], t[f"{kind} start {version}"]
            rw, rc = t[f"{kind} ratio {version}"], t[f"{kind} ratio cpu {version}"]
            print(f"{kind:<8} {version:<5} {_mm(cli)} {_mm(api)} {_mm(start)} "
                  f"{med(rw):8.2f} {max(rw):8.2f} {med(rc):8.2f} {max(rc):8.2f}")
            if version == "now":
                goals.append((f"{kind}: whole-process run of {n} steps <= 1.3x api + start-up "
                              f"(median of rounds: {med(rw):.2f}x wall, {med(rc):.2f}x cpu)",
                              med(rw) <= 1.3))
        print(f"{'':<8} {'':<5} api: compile {_mm(t[f'{kind} compile'])}, "
              f"start + run {_mm(run_t)} ({min(run_t) / n * MS:.3f} ms/step min)")
    print()
    if why_not is not None:
        print(f"DBOS Transact: not measured: {why_not}")
        print("  (pip install .[bench] installs it)")
        return
    if "sqlite" not in backends:
        return
    ours = [x / n for x in t["sqlite run"]]
    dbos_t = [x / n for x in t["dbos"]]
    ratios, ratios_cpu = t["dbos ratio"], t["dbos ratio cpu"]
    print(f"DBOS Transact on SQLite: one workflow of {n} `@DBOS.step()` calls (launch not timed; "
          f"journal_mode={journal_mode}, synchronous=FULL: SQLite's defaults), in the same "
          "rounds (ms/step: min, median; cpu: median)")
    print(f"  ChatFlow sqlite, start + run (API)      {min(ours) * MS:8.3f} {med(ours) * MS:8.3f}"
          f"  cpu {med(t['sqlite run cpu']) / n * MS:.3f}")
    cli_steps = [x / n for x in t["sqlite cli now"]]
    print(f"  ChatFlow sqlite, whole `chatflow run`   {min(cli_steps) * MS:8.3f} "
          f"{med(cli_steps) * MS:8.3f}  cpu {med(t['sqlite cli cpu now']) / n * MS:.3f} "
          "(start-up and compile included)")
    print(f"  DBOS Transact, SQLite system database   {min(dbos_t) * MS:8.3f} "
          f"{med(dbos_t) * MS:8.3f}  cpu {med(t['dbos cpu']) / n * MS:.3f}")
    print(f"  -> DBOS / ChatFlow per step within a round: median {med(ratios):.1f}x, "
          f"min {min(ratios):.1f}x (wall); median {med(ratios_cpu):.1f}x (cpu)")
    print()
    goals.append((f"sqlite: >= 3x faster per step than DBOS Transact (median of rounds "
                  f"{med(ratios):.1f}x wall, {med(ratios_cpu):.1f}x cpu)", med(ratios) >= 3))

# -- the report --------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", default="10,1000,10000")
    ap.add_argument("--dir", default=None, help="where to write (default: a temp dir)")
    ap.add_argument("--lg-steps", type=int, default=1000,
                    help="chain length of the LangGraph comparison (default 1000)")
    ap.add_argument("--lg-rounds", type=int, default=3)
    ap.add_argument("--backends", default="file,sqlite")
    ap.add_argument("--part", choices=("all", "steps", "process"), default="all",
                    help="steps: the engine's durable step vs raw writes and LangGraph; "
                         "process: whole `chatflow run` vs the API, and DBOS Transact")
    ap.add_argument("--process-steps", type=int, default=1000,
                    help="chain length of the whole-process and DBOS rows (default 1000)")
    ap.add_argument("--process-rounds", type=int, default=3)
    ap.add_argument("--baseline", metavar="SRC", default=None,
                    help="also run the whole-process rows with this source tree on PYTHONPATH")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    base = Path(args.dir or tempfile.mkdtemp(prefix="chatflow-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    goals: list[tuple[str, bool]] = []
    if args.part != "steps":
        whole_process(base / "process", args.process_steps, args.process_rounds,
                      args.backends.split(","), args.baseline, goals)
    if args.part == "process":
        for text, ok in goals:
            print(f"goal {verdict(ok):>7}: {text}")
        return 0
    print("ms/step = engine wall time / steps for a chain of trivial `set` steps (every step")
    print("durable when it completes); raw = one fsync'd atomic JSON write (file) / one SQLite")
    print("WAL transaction with synchronous=FULL (sqlite), run alternately with the steps on the")
    print("same disk; cpu = engine CPU per step; step~10 / step~N = median cost of steps 5-55 /")
    print("of the last 50 steps")
    print()
    print(f"{'backend':<8} {'steps':>6} {'ms/step':>9} {'raw ms':>8} {'x raw':>7} "
          f"{'cpu ms':>8} {'step~10':>9} {'step~N':>9} {'N/10':>6}")
    for kind in args.backends.split(","):
        worst = 0.0
        growth = math.nan
        for n in sizes:
            d = base / f"{kind}-{n}"
            d.mkdir(exist_ok=True)
            url = f"file:{d / 'state'}" if kind == "file" else f"sqlite:///{d / 'state.db'}"
            raw: RawAtomicJson | RawSQLiteTxn = (RawAtomicJson(d / "raw") if kind == "file"
                                                 else RawSQLiteTxn(d / "raw.db"))
            try:
                run = run_chain(url, n, raw, rounds=max(1, math.ceil(300 / n)),
                                raw_every=1 if n <= 1000 else 4)
            finally:
                raw.close()
            early, late = run.window("early"), run.window("late")
            ratio = run.per_step / run.raw
            worst = max(worst, ratio)
            if n == max(sizes):
                growth = late / early
            print(f"{kind:<8} {n:>6} {run.per_step * MS:9.3f} {run.raw * MS:8.3f} {ratio:7.2f} "
                  f"{run.cpu / run.steps * MS:8.3f} {early * MS:9.3f} {late * MS:9.3f} "
                  f"{late / early:6.2f}", flush=True)
        goals.append((f"{kind}: per step <= 1.5x raw at every size (worst {worst:.2f}x)",
                      worst <= 1.5))
        goals.append((f"{kind}: step ~{max(sizes)} <= 1.3x step ~10 ({growth:.2f}x)",
                      growth <= 1.3))
    print()
    lg_n = args.lg_steps
    if "sqlite" in args.backends and langgraph_installed():
        rounds = [compare_langgraph(base / f"cmp{r}", lg_n) for r in range(args.lg_rounds)]
        dflt = langgraph_chain(base / "cmp-default", lg_n, None)
        ours = statistics.median(o for o, _ in rounds)
        lg_t = statistics.median(t.per_step for _, t in rounds)
        ratio = statistics.median(t.per_step / o for o, t in rounds)
        lg_cpu = statistics.median(t.cpu for _, t in rounds)
        print(f"{lg_n}-step chain, ChatFlow and LangGraph alternating step by step, "
              f"{args.lg_rounds} rounds (ms/step, ChatFlow/LangGraph: "
              f"{', '.join(f'{o * MS:.2f}/{t.per_step * MS:.2f}' for o, t in rounds)}):")
        print(f"  ChatFlow sqlite                         {ours * MS:8.3f} ms/step (median)")
        print(f"  LangGraph SqliteSaver, durability=sync  {lg_t * MS:8.3f} ms/step "
              f"(cpu {lg_cpu * MS:.3f} ms; journal_mode={rounds[0][1].journal_mode}, "
              f"synchronous={rounds[0][1].synchronous})")
        print(f"  LangGraph SqliteSaver, default (async)  {dflt.per_step * MS:8.3f} ms/step "
              "(run alone, once; writes a step's checkpoint while the next step runs)")
        print(f"  -> ChatFlow is {ratio:.1f}x faster per durable step (median of the rounds' "
              "ratios)")
        goals.append((f"sqlite: >= 4x faster per durable step than LangGraph ({ratio:.1f}x)",
                      ratio >= 4))
    else:
        print("langgraph: not installed (pip install .[bench]) - comparison skipped")
    print()
    for text, ok in goals:
        print(f"goal {verdict(ok):>7}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
