"""Long and deep expressions end to end (issue 7, item 1): a 500-term run
(`x and x and ...`, `k + k + ...`, `s ?? s ?? ...`) and 500- and 1,000-deep
nesting of every nestable form (parenthesised arithmetic, `not`, unary
minus, lists, maps, calls, `??`, `if` chains), each as an output, a `when`, a `set` value
and a shell hole, go through every phase — `lint`, `compile` (IR and AST),
`graph`, `run`, `run --dry-run`, `status`, `history`, the compiler API and
the engine API — with no traceback; the deepest nesting the language allows
(`MAX_NESTING`) works, one level more is refused at compile time (E0107).
Wall-clock ratios against a one-step flow live in `bench/startup.py`."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_chatflow
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chatflow.commands import exit_code_for
from chatflow.compiler import api as compiler_api
from chatflow.deep import room
from chatflow.diagnostics import ChatflowError
from chatflow.dsl.parser import MAX_NESTING
from chatflow.runtime.api import WorkflowEngine, compile_flow
from chatflow.runtime.evaluator import MapScope, evaluate
from chatflow.runtime.store import open_store

# kind → (type, term, run operator or None, one level of nesting around E)
KINDS: dict[str, tuple[str, str, str | None, str]] = {
    "bool": ("bool", "x", "and", "not ({e})"),
    "coalesce": ("bool", "s", "??", "(s ?? {e})"),
    "int": ("int", "k", "+", "(1 + {e})"),
    "neg": ("int", "k", None, "- {e}"),
    "list": ("json", "k", None, "[{e}]"),
    "map": ("json", "k", None, "{{a: {e}}}"),
    "call": ("str", "k", None, "str({e})"),
    "cond": ("int", "k", None, "if x then {e} else 0"),  # an `if` chain: one level each
}
RUNS = [kind for kind, row in KINDS.items() if row[2] is not None]

# kind → (the `when` condition around E, the var's initial value)
WHEN: dict[str, tuple[str, str]] = {
    "bool": ("{e}", "false"), "coalesce": ("{e}", "false"),
    "int": ("({e}) > 0", "0"), "neg": ("({e}) != 0", "0"),
    "list": ("({e}) != null", "null"), "map": ("({e}) != null", "null"),
    "call": ("({e}) == \"1\"", "\"\""),
    "cond": ("({e}) > 0", "0"),
}


def run_expr(kind: str, n: int) -> str:
    _, term, op, _ = KINDS[kind]
    assert op is not None
    terms = [term] * n
    if kind == "coalesce":
        terms[-1] = "x"  # s is null: the run reads on to the end
    return f" {op} ".join(terms)


def nested_expr(kind: str, depth: int) -> str:
    """An expression `depth - 1` levels deep (one level is left for the
    string around a shell hole, or the comparison in a `when`)."""
    _, term, _, wrap = KINDS[kind]
    e = "x" if kind == "coalesce" else term
    for _ in range(depth - 1):
        e = wrap.format(e=e)
    return e


def flow_source(kind: str, expr: str) -> str:
    ty = KINDS[kind][0]
    cond, zero = WHEN[kind]
    return (f"flow deep(x: bool = true, s: bool? = null, k: int = 1) -> (r: {ty}, v: {ty}) {{\n"
            f"  var v: {ty} = {zero}\n"
            f'  step a: shell "echo {{{expr}}}"\n'
            f"  step b when {cond.format(e=expr)}: set v = {expr}\n"
            f'  step c: shell "echo {{v}}"\n'
            f"  output r = {expr}\n"
            f"  output v = v\n"
            f"}}\n")


def expected(kind: str, expr: str) -> Any:
    if kind == "int":
        return expr.count("k") + expr.count("1 +")
    if kind == "bool":
        return expr.count("not") % 2 == 0
    if kind == "neg":
        return (-1) ** expr.count("-")
    if kind == "call":
        return "1"
    if kind == "cond":
        return 1
    if kind in ("list", "map"):
        value: Any = 1
        for _ in range(expr.count("[") + expr.count("{")):
            value = [value] if kind == "list" else {"a": value}
        return value
    return True


def truthy(kind: str, value: Any) -> bool:
    """Whether step b runs (its `when` holds)."""
    return value not in (False, 0, None, "")


# The deepest nesting the language allows, and half of it.
DEPTHS = [MAX_NESTING // 2, MAX_NESTING]
CASES = [(kind, "run 500", run_expr(kind, 500)) for kind in RUNS] + \
        [(kind, f"nested {depth}", nested_expr(kind, depth))
         for depth in DEPTHS for kind in KINDS]
IDS = [f"{kind}-{shape.replace(' ', '')}" for kind, shape, _ in CASES]


def last_json(text: str) -> Any:
    """The JSON document `--json` printed after the progress lines."""
    with room():  # a 1,000-deep value, read here
        return json.loads(text[text.index("{"):])


@pytest.mark.parametrize(("kind", "shape", "expr"), CASES, ids=IDS)
def test_chatflow_run_starts_and_finishes(tmp_path: Path, kind: str, shape: str,
                                          expr: str) -> None:
    (tmp_path / "deep.flow").write_text(flow_source(kind, expr), encoding="utf-8")
    r = run_chatflow("run", "deep.flow", "--json", cwd=tmp_path, timeout=60)
    assert r.code == 0, r.output
    status = last_json(r.stdout)
    want = expected(kind, expr)
    runs_b = truthy(kind, want)
    assert status["status"] == "succeeded"
    with room():  # comparing 1,000-deep values recurses in C
        assert status["outputs"]["r"] == want
        assert not runs_b or status["outputs"]["v"] == want
    assert status["steps"]["b"]["status"] == ("succeeded" if runs_b else "skipped")
    plan = run_chatflow("run", "deep.flow", "--dry-run", cwd=tmp_path, timeout=60)
    assert plan.code == 0, plan.output
    assert "Traceback" not in plan.output
    if kind in ("bool", "int", "coalesce", "neg"):
        assert f"= {json.dumps(json.dumps(want))}" in plan.stdout, plan.output


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_command_takes_the_deepest_nesting(tmp_path: Path, kind: str) -> None:
    """lint, compile (IR and AST), graph, run, status and history on a flow
    nested MAX_NESTING deep: exit 0, no traceback, the values intact."""
    expr = nested_expr(kind, MAX_NESTING)
    (tmp_path / "deep.flow").write_text(flow_source(kind, expr), encoding="utf-8")
    for args in (("lint", "deep.flow"), ("lint", "--format", "json", "deep.flow"),
                 ("compile", "deep.flow", "-o", "ir.json"),
                 ("compile", "deep.flow", "--emit", "ast", "-o", "ast.json"),
                 ("graph", "deep.flow"), ("run", "deep.flow"),
                 ("status",), ("status", "--json"), ("history",)):
        r = run_chatflow(*args, cwd=tmp_path, timeout=60)
        assert r.code == 0, (args, r.output)
        assert "Traceback" not in r.output and "internal error" not in r.output, args
    ir = last_json((tmp_path / "ir.json").read_text(encoding="utf-8"))
    assert ir["entry"] == "deep"
    assert last_json((tmp_path / "ast.json").read_text(encoding="utf-8"))["node"] == "Module"
    # Linear in the source (indenting every level made 80 MB of IR, 362 MB of AST)
    size = (tmp_path / "deep.flow").stat().st_size
    assert (tmp_path / "ir.json").stat().st_size < 40 * size
    assert (tmp_path / "ast.json").stat().st_size < 120 * size


@pytest.mark.parametrize("kind", list(KINDS))
def test_nesting_past_the_limit_is_a_compile_error(tmp_path: Path, kind: str) -> None:
    # MAX_NESTING + 1 levels in `output r` (and in the other places)
    (tmp_path / "deep.flow").write_text(flow_source(kind, nested_expr(kind, MAX_NESTING + 2)),
                                        encoding="utf-8")
    message = f"error[E0107]: nested too deeply (more than {MAX_NESTING} levels)"
    for command, code in (("lint", 1), ("compile", 1), ("run", 2)):
        r = run_chatflow(command, "deep.flow", cwd=tmp_path, timeout=60)  # no traceback, no 70
        assert r.code == code, r.output
        assert message in r.stderr and "Traceback" not in r.output
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
        status = engine.status(iid)
        events = list(engine.history(iid))
        with room():  # comparing 1,000-deep values recurses in C
            assert status.outputs["r"] == want
            assert status.status == "succeeded" and events
        # ~10 ms on a quiet machine; the exponential validation took 34 s at 16 terms
        assert cpu < 2.0, f"start and run took {cpu:.2f} s of CPU"


def test_compiler_api_takes_the_deepest_nesting_from_a_small_stack(tmp_path: Path) -> None:
    """The compiler API makes its own room: called from a thread with a
    small stack and Python's default recursion limit, every entry point
    works on every form nested MAX_NESTING deep."""
    files = []
    for kind in KINDS:
        path = tmp_path / f"{kind}.flow"
        path.write_text(flow_source(kind, nested_expr(kind, MAX_NESTING)), encoding="utf-8")
        files.append(str(path))
    results: list[Any] = []

    def work() -> None:
        try:
            for path in files:
                compiled = compiler_api.compile_path(path)
                tree = compiler_api.ast_of(path)
                graph = compiler_api.graph_of(path, None, "mermaid")
                results.append((compiled.ir is not None, tree.ast is not None,
                                graph.text is not None))
            lint = compiler_api.lint_paths(files)
            results.append(not [d for d in lint.diagnostics if d.is_error])
        except BaseException as exc:  # reported by the test below
            results.append(exc)

    before = threading.stack_size(256 * 1024)
    try:
        t = threading.Thread(target=work)
        t.start()
    finally:
        threading.stack_size(before)
    t.join()
    assert results == [(True, True, True)] * len(files) + [True]


def test_engine_api_refuses_nesting_past_the_limit(tmp_path: Path,
                                                    engine: WorkflowEngine) -> None:
    path = tmp_path / "deep.flow"
    path.write_text(flow_source("bool", nested_expr("bool", MAX_NESTING + 2)),
                    encoding="utf-8")
    with pytest.raises(ChatflowError) as exc:
        engine.start_workflow_instance(str(path))
    assert exit_code_for(exc.value) == 2
    assert {d.code for d in exc.value.diagnostics} == {"E0107"}


# One nesting form: (text around E, levels it adds, its value from E's)
FORMS: list[tuple[str, int, Any]] = [
    ("(1 + {e})", 1, lambda v: v + 1),
    ("(1 * {e})", 1, lambda v: v),
    ("- {e}", 1, lambda v: -v),
    ("[{e}][0]", 2, lambda v: v),
    ("(null ?? {e})", 1, lambda v: v),
    ("int(str({e}))", 2, lambda v: v),
    ("(if true then {e} else 0)", 1, lambda v: v),
]


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(range(len(FORMS))), min_size=1, max_size=MAX_NESTING // 2 + 1),
       st.integers(min_value=0, max_value=4))
@example([3] * (MAX_NESTING // 2), 0)       # exactly at the limit
@example([3] * (MAX_NESTING // 2) + [0], 0)  # one level past it
def test_mixed_deep_nesting_compiles_and_evaluates_or_is_e0107(
        tmp_path: Path, forms: list[int], pad: int) -> None:
    """Any mix of the nesting forms, up to just past the limit: the compiler
    API gives IR whose value is the model's (evaluated by the runtime's
    evaluator), or exactly E0107 when the levels add up past MAX_NESTING."""
    forms = forms + [0] * (pad * (MAX_NESTING // 8))
    expr, levels, value = "k", 0, 3
    for i in forms:
        text, adds, fn = FORMS[i]
        expr, levels, value = text.format(e=expr), levels + adds, fn(value)
    path = tmp_path / f"mix{len(forms)}.flow"
    path.write_text(f"flow f(k: int = 3) -> (r: int) {{\n  output r = {expr}\n}}\n",
                    encoding="utf-8")
    result = compiler_api.compile_path(str(path))
    if levels > MAX_NESTING:
        assert result.ir is None and {d.code for d in result.diagnostics} == {"E0107"}
        return
    assert result.ir is not None, [d.message for d in result.diagnostics]
    (out,) = result.ir["flows"]["f"]["outputs"]
    with room():
        assert evaluate(out["value"], MapScope(params={"k": 3})) == value


def test_the_yaml_front_end_takes_the_deepest_nesting(tmp_path: Path) -> None:
    """Groups and an expression nested as deep as `.flow` allows (the flow's
    body is one level, each group one more) in a YAML flow: lint, compile and
    run like their `.flow` twins; one group more is E0107 in both."""
    inner = "{step: a, shell: echo hi}"
    for i in range(MAX_NESTING - 1):
        inner = f"{{phase: g{i}, steps: [{inner}]}}"
    (tmp_path / "groups.flow.yaml").write_text(
        f"flow: groups\noutputs: {{r: int}}\nsteps: [{inner}]\noutput: {{r: '1'}}\n",
        encoding="utf-8")
    expr = nested_expr("list", MAX_NESTING)
    (tmp_path / "expr.flow.yaml").write_text(
        "flow: expr\nparams: {k: {type: int, default: 1}}\noutputs: {r: json}\n"
        f"steps:\n  - {{step: a, shell: 'echo {{{expr}}}'}}\noutput: {{r: '{expr}'}}\n",
        encoding="utf-8")
    for name in ("groups.flow.yaml", "expr.flow.yaml"):
        for args in (("lint", name), ("compile", name, "-o", "ir.json"), ("run", name)):
            r = run_chatflow(*args, cwd=tmp_path, timeout=60)
            assert r.code == 0, (args, r.output)
            assert "Traceback" not in r.output and "internal error" not in r.output, args
    (tmp_path / "deeper.flow.yaml").write_text(
        f"flow: groups\nsteps: [{{phase: top, steps: [{inner}]}}]\n", encoding="utf-8")
    r = run_chatflow("lint", "deeper.flow.yaml", cwd=tmp_path, timeout=60)
    assert r.code == 1 and "error[E0107]" in r.stderr, r.output
    body = 'step a: shell "echo hi"'
    for i in range(MAX_NESTING - 1):
        body = f"phase g{i} {{ {body} }}"
    (tmp_path / "groups.flow").write_text(f"flow groups() {{ {body} }}\n", encoding="utf-8")
    (tmp_path / "deeper.flow").write_text(f"flow groups() {{ phase top {{ {body} }} }}\n",
                                          encoding="utf-8")
    assert run_chatflow("lint", "groups.flow", cwd=tmp_path, timeout=60).code == 0
    r = run_chatflow("lint", "deeper.flow", cwd=tmp_path, timeout=60)
    assert r.code == 1 and "error[E0107]" in r.stderr, r.output
