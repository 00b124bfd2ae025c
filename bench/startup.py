"""Start-up cost of each command, and over expression size and shape.

    python bench/startup.py [--part all|commands|expressions] [--runs 5]
                            [--sizes 1,16,100,500] [--shapes chain,nested]
                            [--no-api] [--baseline SRC] [--timeout S]

Commands (issue 9, goal 1): `chatflow --version`, `status ID`, `list`,
`history ID`, `approve ID STEP` (each round approves a fresh waiting instance)
and `run` of a one-step flow, each from spawn to exit, next to `python -c
pass` (the floor) in the same alternating rounds; min and median, and both
as a ratio to the floor's. `--baseline SRC` adds a column for another source
tree (e.g. main's src/), run in the same rounds. Bytecode caches are written
(PYTHONDONTWRITEBYTECODE is dropped for the timed processes), as an installed
package has them.

Expressions (issue 7, item 1):

For each size N and shape, a flow whose expression of N terms stands in four
places (an output, a `when`, a `set` value and a shell hole):

  chain   `x and x and ... and x`       N terms in one run of `and` (one level)
  nested  `x and (x and (... and x))`   N terms, N-1 levels deep

next to a one-step flow (`step a: shell "true"`, `output r = x`), measured in
the same rounds (round robin over the flows, so load falls on all alike).
Nesting deeper than the language's limit (1,000 levels) is refused at compile
time (E0107): such rows say so, and the nested shape always gets a row at the
deepest nesting allowed (1,000 terms: 999 levels, one more for the string
around the shell hole), next to the 500-deep row of the default sizes.

Two ways in:
  cli  the installed `chatflow run` process: wall time from spawn to its
       `started ...` line, and to its exit (interpreter start-up included);
  api  in this process: `start_workflow_instance` of what `compile_flow`
       returned (started; compiling, `lint`'s cost, is not timed), then
       `run_until_blocked` (finished); and the same from a copy of the IR
       as a plain dict, which start-up validates.
Each cell shows the min and the median over --runs runs and the same two as a
ratio to the one-step flow.

Times are wall time, and for the API also this process's CPU time (steadier
on a busy machine). `--places output` puts the expression only in an output,
as in the issue's report. `--baseline SRC` runs the cli rows with another source tree first on
PYTHONPATH (`python -m chatflow`; e.g. /work/main/src, the code before the
change), each run cut off after --timeout seconds (shown as `>T`).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alternate import process_env

NESTING_LIMIT = 1000  # chatflow.dsl.parser.MAX_NESTING
MS = 1000.0


def expression(shape: str, n: int) -> str:
    if shape == "chain":
        return " and ".join(["x"] * n)
    e = "x"
    for _ in range(n - 1):
        e = f"x and ({e})"
    return e


def flow_source(expr: str, places: str) -> str:
    if places == "output":  # the flow of the issue's report
        return ("flow deep(x: bool = true) -> (r: bool) {\n"
                "  step a: shell \"true\"\n"
                f"  output r = {expr}\n"
                "}\n")
    return ("flow deep(x: bool = true) -> (r: bool, v: bool) {\n"
            "  var v: bool = false\n"
            f'  step a: shell "echo {{{expr}}}"\n'
            f"  step b when {expr}: set v = {expr}\n"
            "  step c: shell \"true\"\n"
            f"  output r = {expr}\n"
            "  output v = v\n"
            "}\n")


ONE_STEP = ("flow one(x: bool = true) -> (r: bool) {\n"
            "  step a: shell \"true\"\n"
            "  output r = x\n"
            "}\n")


@dataclass
class Case:
    label: str
    terms: int
    path: Path
    refused: bool = False        # beyond the nesting limit: a compile error
    # series name -> [(seconds to started, seconds to finished), ...]
    times: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def add(self, series: str, started: float, finished: float) -> None:
        self.times.setdefault(series, []).append((started, finished))


def cli_command(baseline: str | None) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    env.pop("CHATFLOW_STATE", None)
    if baseline:
        env["PYTHONPATH"] = baseline + os.pathsep + env.get("PYTHONPATH", "")
        return [sys.executable, "-m", "chatflow"], env
    beside = Path(sys.executable).parent / "chatflow"
    return ([str(beside)] if beside.exists() else [sys.executable, "-m", "chatflow"]), env


def run_cli(cmd: list[str], env: dict[str, str], case: Case, state: Path,
            timeout: float) -> tuple[float, float]:
    """(seconds to the `started` line, seconds to exit); inf when cut off."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([*cmd, "run", str(case.path), "--state", f"file:{state}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=state.parent)
    started = math.inf
    assert proc.stderr is not None
    deadline = t0 + timeout
    try:
        while True:
            if time.perf_counter() > deadline:
                raise subprocess.TimeoutExpired(cmd, timeout)
            line = _readline(proc, deadline)
            if line is None:
                break
            if started == math.inf and line.startswith("started "):
                started = time.perf_counter() - t0
        proc.wait(timeout=max(0.1, deadline - time.perf_counter()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return math.inf, math.inf
    finished = time.perf_counter() - t0
    if proc.returncode != 0 and not case.refused:
        raise SystemExit(f"chatflow run {case.path} exited {proc.returncode}")
    return started, finished


def _readline(proc: subprocess.Popen[str], deadline: float) -> str | None:
    """The next stderr line, None at the end; waits at most until `deadline`."""
    import selectors

    assert proc.stderr is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        if not sel.select(max(0.0, deadline - time.perf_counter())):
            raise subprocess.TimeoutExpired(proc.args, 0)
    line = proc.stderr.readline()
    return line or None


def run_api(case: Case, state: Path, as_dict: bool) -> tuple[float, float, float, float]:
    """(wall to started, wall to finished, CPU to started, CPU to finished),
    from a compiled flow (compiled before the clock starts: that is `lint`'s
    cost) or, with `as_dict`, from a copy of its IR as a plain dict."""
    from chatflow.diagnostics import ChatflowError
    from chatflow.runtime.api import WorkflowEngine, compile_flow
    from chatflow.runtime.store import open_store

    try:
        compiled = compile_flow(str(case.path))
    except ChatflowError:
        if not case.refused:
            raise
        return (0.0,) * 4
    flow: Any = dict(compiled.ir) if as_dict else compiled
    engine = WorkflowEngine(open_store(f"file:{state}"), workdir=str(state.parent))
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        started_id = engine.start_workflow_instance(flow).instance_id
        started, cpu_started = time.perf_counter() - t0, time.process_time() - c0
        result = engine.run_until_blocked(started_id)
        finished, cpu_finished = time.perf_counter() - t0, time.process_time() - c0
        assert result.status == "succeeded", result
        return started, finished, cpu_started, cpu_finished
    finally:
        engine.store.close()


def _cell(values: list[float], ref: list[float]) -> str:
    if not values:
        return f"{'-':>31}"
    lo, med = min(values), statistics.median(values)
    rlo, rmed = min(ref), statistics.median(ref)

    def ms(v: float) -> str:
        return ">T" if math.isinf(v) else f"{v * MS:.1f}" if v < 0.1 else f"{v * MS:.0f}"

    def ratio(v: float, r: float) -> str:
        return "-" if math.isinf(v) else f"{v / r:.2f}x"

    return f"{ms(lo):>7} {ms(med):>7} {ratio(lo, rlo):>8} {ratio(med, rmed):>7}"


def print_table(title: str, cases: list[Case], ref: Case, series: str) -> None:
    print(title)
    head = f"{'min ms':>7} {'med ms':>7} {'min/ref':>8} {'med/ref':>7}"
    print(f"{'':<16} {'':>5}  {'to started':^31}   {'to finished':^31}")
    print(f"{'flow':<16} {'terms':>5}  {head}   {head}")
    ref_times = ref.times[series]
    for c in [ref, *cases]:
        if c.refused:
            note = f"refused at compile time (E0107: nested deeper than {NESTING_LIMIT} levels)"
            print(f"{c.label:<16} {c.terms:>5}  {note}")
            continue
        times = c.times.get(series, [])
        print(f"{c.label:<16} {c.terms:>5}  "
              f"{_cell([s for s, _ in times], [s for s, _ in ref_times])}   "
              f"{_cell([f for _, f in times], [f for _, f in ref_times])}")
    print()


# -- command start-up (issue 9, goal 1) ------------------------------------------------

GATE = 'flow gate() {\n  step a: approve "go?"\n}\n'
ONE_SET = "flow one() {\n  var x: int = 0\n  step a: set x = 1\n}\n"
ENTRY = "import sys; from chatflow.__main__ import main; sys.exit(main())"
LIMITS = {"status": 5.0, "list": 5.0, "history": 5.0, "approve": 5.0, "run": 8.0}


def _waiting_instances(state: Path, work: Path, count: int) -> list[str]:
    """`count` instances of a one-approval flow, each waiting at step `a`."""
    from chatflow.runtime.api import WorkflowEngine, compile_flow
    from chatflow.runtime.store import open_store

    flow = work / "gate.flow"
    flow.write_text(GATE, encoding="utf-8")
    compiled = compile_flow(str(flow))
    engine = WorkflowEngine(open_store(f"file:{state}"), workdir=str(work))
    try:
        ids = []
        for _ in range(count):
            iid = engine.start_workflow_instance(compiled, automation_level=0).instance_id
            engine.run_until_blocked(iid)
            ids.append(iid)
        return ids
    finally:
        engine.store.close()


def _time(argv: list[str], env: dict[str, str], cwd: Path,
          ok: tuple[int, ...]) -> tuple[float, float]:
    """(wall seconds, the child's CPU seconds: user + system) of one command."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: "
                         f"{proc.stderr.decode(errors='replace')[-400:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return took, cpu


def command_startup(runs: int, baseline: str | None, work: Path) -> None:
    """Each command's wall time from spawn to exit next to `python -c pass`, in
    alternating rounds (round robin over commands and code versions)."""
    work.mkdir(parents=True, exist_ok=True)
    state = work / "cmd-state"
    ids = _waiting_instances(state, work, 2 * (runs + 1) + 1)
    shown = ids.pop()
    one = work / "one-set.flow"
    one.write_text(ONE_SET, encoding="utf-8")
    url = f"file:{state}"
    rows: list[tuple[str, list[str], tuple[int, ...]]] = [
        ("--version", ["--version"], (0,)),
        ("status ID", ["status", shown, "--state", url], (0,)),
        ("list", ["list", "--state", url], (0,)),
        ("history ID", ["history", shown, "--state", url], (0,)),
        ("approve ID STEP", ["approve", "{approve}", "a", "--state", url], (0,)),
        ("run one-step", ["run", str(one), "--state", f"file:{work / 'run-state'}"], (0,)),
    ]
    here = str(Path(__file__).resolve().parent.parent / "src")
    versions = {"now": process_env(here)}
    if baseline:
        versions["base"] = process_env(baseline)
    floor: dict[str, list[float]] = {"wall": [], "cpu": []}
    times: dict[tuple[str, str, str], list[float]] = {}
    for r in range(runs + 1):  # round 0 warms the page cache and writes bytecode caches
        wall, cpu = _time([sys.executable, "-c", "pass"], versions["now"], work, (0,))
        if r:
            floor["wall"].append(wall)
            floor["cpu"].append(cpu)
        for label, args, ok in rows:
            for version, env in versions.items():
                argv = [ids.pop() if a == "{approve}" else a for a in args]
                wall, cpu = _time([sys.executable, "-c", ENTRY, *argv], env, work, ok)
                if r:
                    times.setdefault((label, version, "wall"), []).append(wall)
                    times.setdefault((label, version, "cpu"), []).append(cpu)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    print(f"command start-up: spawn -> exit, {runs} alternating rounds after a warm-up, "
          f"load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"floor: `{Path(sys.executable).name} -c pass`; each command runs as the installed "
          "script does (`from chatflow.__main__ import main`)"
          + (f"; base: PYTHONPATH={baseline}" if baseline else ""))
    print()
    for measure in ("wall", "cpu"):
        _command_table(measure, rows, versions, floor[measure], times)


def _command_table(measure: str, rows: list[tuple[str, list[str], tuple[int, ...]]],
                   versions: dict[str, dict[str, str]], floor: list[float],
                   times: dict[tuple[str, str, str], list[float]]) -> None:
    print("wall time, spawn -> exit" if measure == "wall" else
          "CPU time of the process (user + system; steadier on a busy machine)")
    head = f"{'min ms':>7} {'med ms':>7} {'min/fl':>7} {'med/fl':>7}"
    cols = "   ".join(f"{v:^30}" for v in versions)
    print(f"{'':<16}   {cols}   goal")
    print(f"{'command':<16}   " + "   ".join(head for _ in versions))
    lo, med = min(floor), statistics.median(floor)
    print(f"{'python -c pass':<16}   {lo * MS:7.1f} {med * MS:7.1f} {'1.00x':>7} {'1.00x':>7}")
    for label, _args, _ok in rows:
        cells = []
        for version in versions:
            ts = times[(label, version, measure)]
            cells.append(f"{min(ts) * MS:7.1f} {statistics.median(ts) * MS:7.1f} "
                         f"{min(ts) / lo:6.2f}x {statistics.median(ts) / med:6.2f}x")
        limit = LIMITS.get(label.split()[0])
        goal = ""
        if limit is not None:
            ratio = min(times[(label, "now", measure)]) / lo
            goal = f"<= {limit:.0f}x: {'met' if ratio <= limit else 'not met'} (min)"
        print(f"{label:<16}   " + "   ".join(cells) + f"   {goal}")
    print()

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", default="1,16,100,500")
    ap.add_argument("--shapes", default="chain,nested")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--places", choices=("all", "output"), default="all",
                    help="where the expression stands: output, when, set value and shell "
                         "hole (all), or only an output (the issue's flow)")
    ap.add_argument("--no-api", action="store_true", help="only the `chatflow run` process")
    ap.add_argument("--no-cli", action="store_true", help="only the Python API")
    ap.add_argument("--baseline", metavar="SRC", default=None,
                    help="run the cli rows with this source tree on PYTHONPATH (implies --no-api)")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="cut a `chatflow run` off after this many seconds")
    ap.add_argument("--part", choices=("all", "commands", "expressions"), default="all",
                    help="commands: each command's start-up vs `python -c pass` (issue 9); "
                         "expressions: start-up over expression size (issue 7)")
    args = ap.parse_args(argv)
    if args.part != "expressions":
        work = Path(tempfile.mkdtemp(prefix="chatflow-startup-"))
        try:
            command_startup(args.runs, args.baseline, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if args.part == "commands":
            return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    shapes = args.shapes.split(",")
    use_api = not args.no_api and args.baseline is None
    use_cli = not args.no_cli
    work = Path(tempfile.mkdtemp(prefix="chatflow-startup-"))
    try:
        ref_path = work / "one.flow"
        ref_path.write_text(ONE_STEP, encoding="utf-8")
        ref = Case("one-step", 1, ref_path)
        cases: list[Case] = []
        for shape in shapes:
            shape_sizes = list(sizes)
            if shape == "nested":
                shape_sizes = sorted({*sizes, NESTING_LIMIT})  # the deepest allowed
            for n in shape_sizes:
                path = work / f"{shape}{n}.flow"
                path.write_text(flow_source(expression(shape, n), args.places),
                                encoding="utf-8")
                # n - 1 levels, and the shell hole's string is one more
                refused = shape == "nested" and n > NESTING_LIMIT
                cases.append(Case(shape, n, path, refused))
        cmd, env = cli_command(args.baseline)
        for r in range(args.runs + 1):  # round 0 warms caches (and the API's imports)
            for c in [ref, *cases]:
                state = work / f"state-{r}"
                if use_cli:
                    s, f = run_cli(cmd, env, c, state, args.timeout)
                    if r:
                        c.add("cli", s, f)
                if use_api:
                    for as_dict in (False, True):
                        ws, wf, cs, cf = run_api(c, work / f"api-{r}", as_dict)
                        if r:
                            kind = "dict" if as_dict else "compiled"
                            c.add(f"{kind} wall", ws, wf)
                            c.add(f"{kind} cpu", cs, cf)
            shutil.rmtree(work / f"state-{r}", ignore_errors=True)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
        where = ("an output, a `when`, a `set` value and a shell hole" if args.places == "all"
                 else "an output")
        print(f"start-up over expression size; the expression stands in {where};\n"
              f"{args.runs} runs after a warm-up, "
              f"load average {load:.1f} on {os.cpu_count()} CPUs"
              + (f"; baseline source {args.baseline}" if args.baseline else ""))
        print()
        if use_cli:
            print_table(f"`{' '.join(cmd[-2:] if args.baseline else cmd[-1:])} run` process "
                        "(spawn -> `started` line, -> exit)", cases, ref, "cli")
        if use_api:
            print_table("Python API, wall time: start_workflow_instance(compile_flow(path)) -> "
                        "started, + run_until_blocked -> finished (compiling not timed)",
                        cases, ref, "compiled wall")
            print_table("Python API, CPU time of this process (the same)",
                        cases, ref, "compiled cpu")
            print_table("Python API, CPU time, started from the IR as a plain dict "
                        "(validated by load_ir)", cases, ref, "dict cpu")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
