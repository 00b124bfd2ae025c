"""The compiler API the CLI calls: targets, flow selection, compile, lint, ast, graph, schemas."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chatflow.commands import exit_code_for
from chatflow.compiler import api
from chatflow.compiler.ir import dumps, load_ir
from chatflow.compiler.sources import find_sources
from chatflow.diagnostics import ChatflowError, Span, has_errors
from chatflow.dsl import ast

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def write(tmp: Path, rel: str, text: str) -> str:
    p = tmp / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return str(p)


# ------------------------------------------------------------------ targets and selection


def test_split_target(tmp_path: Path) -> None:
    f = write(tmp_path, "a.flow", "")
    odd = write(tmp_path, "b:c.flow", "")
    assert api.split_target(f) == (f, None)
    assert api.split_target(f + ":main") == (f, "main")
    assert api.split_target(odd) == (odd, None)  # an existing file is never split
    assert api.split_target(odd + ":x") == (odd, "x")
    assert api.split_target(f + ":not-a-name") == (f + ":not-a-name", None)
    assert api.split_target(str(tmp_path / "missing.flow") + ":main") == \
        (str(tmp_path / "missing.flow") + ":main", None)
    assert api.split_target(f + ":") == (f + ":", None)


SP = Span("x.flow", 1, 1, 1, 1)


@dataclass
class _Unit:
    flow: ast.Flow


@dataclass
class _Program:
    root: str
    units: dict[str, _Unit]
    root_flows: list[str]


def fake_program(root: str, *names: str) -> Any:
    units = {n: _Unit(ast.Flow(ast.Ident(n, SP), (), (), (), SP)) for n in names}
    return _Program(root, units, list(names))


def test_select_flow_rules() -> None:
    assert api.select_flow(fake_program("d/feature.flow", "a", "feature"), None) == "feature"
    assert api.select_flow(fake_program("d/x.flow", "only"), None) == "only"
    assert api.select_flow(fake_program("d/x.flow", "a", "b"), "b") == "b"
    with pytest.raises(ChatflowError) as exc:
        api.select_flow(fake_program("d/x.flow", "a", "b"), None)
    assert exit_code_for(exc.value) == 2
    assert "several flows" in exc.value.message and "flows: a, b" in exc.value.message
    with pytest.raises(ChatflowError) as exc:
        api.select_flow(fake_program("d/x.flow", "a", "b"), "c")
    assert exit_code_for(exc.value) == 2 and "no flow `c`" in exc.value.message
    with pytest.raises(ChatflowError) as exc:
        api.select_flow(fake_program("d/x.flow"), None)
    assert exit_code_for(exc.value) == 2


def test_schemas() -> None:
    ir = api.ir_schema()
    assert ir["title"].startswith("ChatFlow IR")
    assert isinstance(api.yaml_schema(), dict)
    json.dumps(api.yaml_schema())


def test_missing_paths_are_usage_errors(tmp_path: Path) -> None:
    for call in (lambda: api.compile_path(str(tmp_path / "nope.flow")),
                 lambda: api.lint_paths([str(tmp_path / "nope")]),
                 lambda: api.ast_of(str(tmp_path / "nope.flow")),
                 lambda: api.compile_path(str(tmp_path))):
        with pytest.raises(ChatflowError) as exc:
            call()
        assert exit_code_for(exc.value) == 2


def test_find_sources_recursive_sorted(tmp_path: Path) -> None:
    write(tmp_path, "b.flow", "")
    write(tmp_path, "a/z.yml", "flow: z\n")
    write(tmp_path, "a/y.yaml", "flows: []\n")
    write(tmp_path, "a/other.yaml", "name: not a flow\n")
    write(tmp_path, "a/notes.txt", "")
    write(tmp_path, ".hidden/h.flow", "")
    rel = [str(Path(p).relative_to(tmp_path)) for p in find_sources([str(tmp_path)])]
    assert rel == ["a/y.yaml", "a/z.yml", "b.flow"]


def test_ast_to_json() -> None:
    tree = api.ast_to_json(ast.Name("x", SP))
    assert tree == {"node": "Name", "name": "x", "span": [1, 1, 1, 1]}


# ------------------------------------------------------------------ with the real front-end

def test_compile_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = api.compile_path("examples/feature.flow")
    assert not has_errors(result.diagnostics), result.diagnostics
    assert result.ir is not None
    load_ir(result.ir)
    assert result.ir["entry"] == "feature"
    assert "std:bugfix" in result.ir["flows"]
    assert result.ir["flows"]["feature"]["source"]["file"] == "examples/feature.flow"
    assert "examples/feature.flow" in result.sources
    # FILE:FLOW works too
    again = api.compile_path("examples/feature.flow:feature")
    assert again.ir == result.ir


def test_deterministic_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    a = api.compile_path("examples/feature.flow").ir
    b = api.compile_path("examples/feature.flow").ir
    assert a is not None and b is not None and dumps(a) == dumps(b)
    assert dumps(a).endswith("}\n")


def test_flow_and_yaml_twins_give_identical_ir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    flow = api.compile_path("examples/feature.flow", source_info=False)
    yaml = api.compile_path("examples/feature.yaml", source_info=False)
    assert flow.ir is not None, flow.diagnostics
    assert yaml.ir is not None, yaml.diagnostics
    assert dumps(flow.ir) == dumps(yaml.ir)
    assert "span" not in dumps(flow.ir) and "sha256" not in dumps(flow.ir)


def test_errors_give_no_ir_and_sources(tmp_path: Path) -> None:
    f = write(tmp_path, "bad.flow", 'flow bad() {\n  step a: shell "x"\n  step b after nope: '
                                    'shell "y"\n}\n')
    result = api.compile_path(f)
    assert result.ir is None and has_errors(result.diagnostics)
    assert result.sources[f].startswith("flow bad()")
    graph = api.graph_of(f, None, "mermaid")
    assert graph.text is None and has_errors(graph.diagnostics)


def test_relative_import_and_recursion_bundled(tmp_path: Path) -> None:
    write(tmp_path, "lib/steps.flow",
          'flow lint(path: str) -> (clean: bool) {\n  step run: shell "ruff {path}"\n'
          '  output clean = run.ok\n}\n')
    main = write(tmp_path, "main.flow",
                 'import lint from "./lib/steps.flow"\n'
                 'flow main(n: int = 2) -> (done: bool) {\n  max_depth 4\n'
                 '  step check: call lint(path: "src")\n'
                 '  step again when n > 0: call main(n: n - 1)\n'
                 '  output done = check.clean ?? false\n}\n')
    result = api.compile_path(main)
    assert result.ir is not None, result.diagnostics
    load_ir(result.ir)
    flows = result.ir["flows"]
    assert sorted(flows) == ["lib/steps.flow:lint", "main"]
    nodes = {n["id"]: n for n in flows["main"]["nodes"]}
    assert nodes["check"]["action"]["flow"] == "lib/steps.flow:lint"
    assert nodes["again"]["action"]["flow"] == "main"
    assert nodes["again"]["optional"] is True
    assert nodes["check"]["fields"] == {"ok": "bool", "clean": "bool"}


def test_lint_checks_every_flow_of_every_file(tmp_path: Path) -> None:
    write(tmp_path, "z/two.flow",
          'flow one() {\n  step a: shell "x"\n}\n'
          'flow two() {\n  step b after nope: shell "y"\n}\n')
    write(tmp_path, "a.flow", 'flow a() {\n  step a: shell "x"\n}\n')
    result = api.lint_paths([str(tmp_path)])
    assert [Path(f).name for f in result.files] == ["a.flow", "two.flow"]
    errors = [d for d in result.diagnostics if d.is_error]
    assert errors and all(d.span.file.endswith("two.flow") for d in errors)
    assert any(d.span.line == 5 for d in errors)
    assert any(f.endswith("two.flow") for f in result.sources)


def test_lint_examples_clean() -> None:
    result = api.lint_paths([str(EXAMPLES)])
    assert not has_errors(result.diagnostics), result.diagnostics


def test_ast_of_and_graph_of(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    res = api.ast_of("examples/feature.flow")
    assert res.ast is not None and res.ast["node"] == "Module"
    json.dumps(res.ast)
    assert res.ast["flows"][0]["name"]["name"] == "feature"
    graph = api.graph_of("examples/feature.flow", None, "mermaid")
    assert graph.text is not None and graph.text.startswith("flowchart TD\n  %% flow feature\n")
    assert 'subgraph n_checks["parallel checks"]' in graph.text
    dot = api.graph_of("examples/feature.flow", "feature", "dot")
    assert dot.text is not None and 'subgraph "cluster_checks"' in dot.text


def test_several_flows_need_a_choice(tmp_path: Path) -> None:
    f = write(tmp_path, "multi.flow", 'flow a() {\n  step x: shell "x"\n}\n'
                                      'flow b() {\n  step y: shell "y"\n}\n')
    with pytest.raises(ChatflowError) as exc:
        api.compile_path(f)
    assert exit_code_for(exc.value) == 2 and "flows: a, b" in exc.value.message
    result = api.compile_path(f + ":b")
    assert result.ir is not None and result.ir["entry"] == "b"
    assert list(result.ir["flows"]) == ["b"]


def test_lowering_bug_becomes_a_clear_error(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from chatflow.compiler import lower as lower_mod

    def broken(*_: Any, **__: Any) -> Any:
        raise lower_mod.LoweringError("unresolved name `x`")

    monkeypatch.setattr(lower_mod, "lower", broken)
    f = write(tmp_path, "ok.flow", 'flow ok() {\n  step a: shell "x"\n}\n')
    with pytest.raises(ChatflowError) as exc:
        api.compile_path(f)
    assert "internal compiler error" in exc.value.message and "`x`" in exc.value.message
