"""Long and deep expressions end to end (issue 7, item 1): a 500-term run
(`x and x and ...`, `k + k + ...`, `s ?? s ?? ...`) and the deepest nesting
the language allows, each as an output, a `when`, a `set` value and a shell
hole, start and finish through `chatflow run` and through the engine API,
at a cost within a generous bound (the exponential IR validation took 34 s
for 16 terms and never finished for 18); 500-deep nesting is refused at
compile time (E0107), never a traceback."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_chatflow

from chatflow.commands import exit_code_for
from chatflow.diagnostics import ChatflowError
from chatflow.dsl.parser import MAX_NESTING
from chatflow.runtime.api import WorkflowEngine, compile_flow
from chatflow.runtime.store import open_store

# kind → (type, term, run operator, nesting of one level around E, value)
KINDS: dict[str, tuple[str, str, str, str]] = {
    "bool": ("bool", "x", "and", "not ({e})"),
    "coalesce": ("bool", "s", "??", "(s ?? {e})"),
    "int": ("int", "k", "+", "(1 + {e})"),
}


def run_expr(kind: str, n: int) -> str:
    _, term, op, _ = KINDS[kind]
    terms = [term] * n
    if kind == "coalesce":
        terms[-1] = "x"  # s is null: the run reads on to the end
    return f" {op} ".join(terms)


def nested_expr(kind: str, depth: int) -> str:
    _, term, _, wrap = KINDS[kind]
    e = "x" if kind == "coalesce" else term
    for _ in range(depth - 1):
        e = wrap.format(e=e)
    return e


def flow_source(kind: str, expr: str) -> str:
    ty = KINDS[kind][0]
    cond = expr if ty == "bool" else f"({expr}) > 0"
    zero = "false" if ty == "bool" else "0"
    return (f"flow deep(x: bool = true, s: bool? = null, k: int = 1) -> (r: {ty}, v: {ty}) {{\n"
            f"  var v: {ty} = {zero}\n"
            f'  step a: shell "echo {{{expr}}}"\n'
            f"  step b when {cond}: set v = {expr}\n"
            f'  step c: shell "echo {{v}}"\n'
            f"  output r = {expr}\n"
            f"  output v = v\n"
            f"}}\n")


def expected(kind: str, expr: str) -> Any:
    if kind == "int":
        return expr.count("k") + expr.count("1 +")
    if kind == "bool":
        return expr.count("not") % 2 == 0
    return True


# The deepest nesting the language allows: MAX_NESTING - 1 levels around a
# name, one more for the string around the shell hole (its `fmt`) and for the
# comparison in the `int` case's `when`.
DEPTH = MAX_NESTING
CASES = [(kind, "run 500", run_expr(kind, 500)) for kind in KINDS] + \
        [(kind, f"nested {DEPTH}", nested_expr(kind, DEPTH)) for kind in KINDS]
IDS = [f"{kind}-{shape}" for kind, shape, _ in CASES]


@pytest.mark.parametrize(("kind", "shape", "expr"), CASES, ids=IDS)
def test_chatflow_run_starts_and_finishes(tmp_path: Path, kind: str, shape: str,
                                          expr: str) -> None:
    (tmp_path / "deep.flow").write_text(flow_source(kind, expr), encoding="utf-8")
    r = run_chatflow("run", "deep.flow", "--json", cwd=tmp_path, timeout=60)
    assert r.code == 0, r.output
    status = json.loads(r.stdout[r.stdout.index("{"):])
    want = expected(kind, expr)
    assert status["status"] == "succeeded"
    assert status["outputs"] == {"r": want, "v": want}  # b ran, or v kept its false
    assert status["steps"]["b"]["status"] == ("succeeded" if want else "skipped")
    plan = run_chatflow("run", "deep.flow", "--dry-run", cwd=tmp_path, timeout=60)
    assert plan.code == 0 and f"= {json.dumps(json.dumps(want))}" in plan.stdout, plan.output


@pytest.mark.parametrize("kind", list(KINDS))
def test_nesting_past_the_limit_is_a_compile_error(tmp_path: Path, kind: str) -> None:
    (tmp_path / "deep.flow").write_text(flow_source(kind, nested_expr(kind, 500)),
                                        encoding="utf-8")
    r = run_chatflow("run", "deep.flow", cwd=tmp_path, timeout=60)  # no traceback, no 70
    assert r.code == 2, r.output
    assert f"error[E0107]: nested too deeply (more than {MAX_NESTING} levels)" in r.stderr
    assert not (tmp_path / ".chatflow").exists()  # nothing started


@pytest.fixture()
def engine(tmp_path: Path) -> Any:
    eng = WorkflowEngine(open_store(f"file:{tmp_path / '.chatflow'}"), workdir=str(tmp_path))
    yield eng
    eng.store.close()


@pytest.mark.parametrize(("kind", "shape", "expr"), CASES, ids=IDS)
def test_engine_api_starts_and_finishes_within_a_generous_bound(
        tmp_path: Path, engine: WorkflowEngine, kind: str, shape: str, expr: str) -> None:
    path = tmp_path / "deep.flow"
    path.write_text(flow_source(kind, expr), encoding="utf-8")
    compiled = compile_flow(str(path))
    want = expected(kind, expr)
    # compiled here (trusted), and as a caller's IR dict (validated, linearly)
    for flow in (compiled, dict(compiled.ir)):
        cpu = time.process_time()
        iid = engine.start_workflow_instance(flow).instance_id
        engine.run_until_blocked(iid)
        cpu = time.process_time() - cpu
        assert engine.status(iid).outputs["r"] == want
        # ~10 ms on a quiet machine; the exponential validation took 34 s at 16 terms
        assert cpu < 2.0, f"start and run took {cpu:.2f} s of CPU"


def test_engine_api_refuses_nesting_past_the_limit(tmp_path: Path,
                                                    engine: WorkflowEngine) -> None:
    path = tmp_path / "deep.flow"
    path.write_text(flow_source("bool", nested_expr("bool", 500)), encoding="utf-8")
    with pytest.raises(ChatflowError) as exc:
        engine.start_workflow_instance(str(path))
    assert exit_code_for(exc.value) == 2
    assert {d.code for d in exc.value.diagnostics} == {"E0107"}
