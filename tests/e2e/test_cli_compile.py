"""The installed `chatflow` command end to end: compile, lint, graph, schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import EXAMPLES, run_chatflow

from chatflow.dsl.parser import MAX_NESTING
from installed_cli import SARIF_SCHEMA

BAD_FLOW = """\
flow bad(x: int) {
  step build: shell "make"
  step test after buidl: shell "pytest"
}
"""

TWO_FLOWS = """\
flow one() {
  step a: shell "true"
}

flow two() {
  step b: shell "true"
}
"""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    for name in ("feature.flow", "feature.yaml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    return tmp_path


# --------------------------------------------------------------------------- basics


def test_version() -> None:
    r = run_chatflow("--version")
    assert r.code == 0
    assert r.stdout.startswith("chatflow ")
    from chatflow import __version__

    assert r.stdout.strip() == f"chatflow {__version__}"


def test_help_lists_the_commands() -> None:
    r = run_chatflow("--help")
    assert r.code == 0
    for cmd in ("compile", "lint", "graph", "schema"):
        assert cmd in r.stdout


@pytest.mark.parametrize("args", [
    ["frobnicate"],
    ["--frobnicate"],
    ["lint", "--frobnicate", "x.flow"],
    ["lint", "--format", "xml", "."],
    ["compile"],
    ["graph", "feature.flow", "--format", "png"],
    ["schema", "toml"],
])
def test_usage_errors_exit_2(work: Path, args: list[str]) -> None:
    assert run_chatflow(*args, cwd=work).code == 2


# --------------------------------------------------------------------------- compile


def test_compile_prints_ir(work: Path) -> None:
    r = run_chatflow("compile", "feature.flow", cwd=work)
    assert r.code == 0, r.stderr
    ir = json.loads(r.stdout)
    assert ir["ir_version"] == 2
    assert ir["entry"] == "feature"
    assert "feature" in ir["flows"]
    build = next(n for n in ir["flows"]["feature"]["nodes"] if n["id"] == "build")
    assert build["action"]["command"] == 'make build FEATURE="${cf_feature_id}"'
    assert build["action"]["bindings"] == {"cf_feature_id": {"param": "feature_id"}}


def test_compile_to_file(work: Path) -> None:
    r = run_chatflow("compile", "feature.flow", "-o", "nodir/feature.ir.json", cwd=work)
    assert r.code == 2  # the directory does not exist: a usage problem
    assert "nodir" in r.stderr
    r = run_chatflow("compile", "feature.flow", "-o", "feature.ir.json", cwd=work)
    assert r.code == 0, r.stderr
    assert r.stdout == ""
    written = (work / "feature.ir.json").read_text(encoding="utf-8")
    assert json.loads(written)["entry"] == "feature"
    assert [p.name for p in work.iterdir() if p.name.endswith(".tmp")] == []


def test_flow_and_yaml_twin_give_identical_ir(work: Path) -> None:
    a = run_chatflow("compile", "feature.flow", "--no-source-info", cwd=work)
    b = run_chatflow("compile", "feature.yaml", "--no-source-info", cwd=work)
    assert a.code == 0 and b.code == 0, a.stderr + b.stderr
    assert a.stdout == b.stdout
    assert '"span"' not in a.stdout


def test_compile_is_deterministic(work: Path) -> None:
    a = run_chatflow("compile", "feature.flow", cwd=work)
    b = run_chatflow("compile", "feature.flow", cwd=work)
    assert a.stdout == b.stdout


def test_compile_emit_ast(work: Path) -> None:
    r = run_chatflow("compile", "feature.flow", "--emit", "ast", cwd=work)
    assert r.code == 0, r.stderr
    tree = json.loads(r.stdout)
    assert tree["node"] == "Module"


def test_compile_error_goes_to_stderr_exit_1(work: Path) -> None:
    (work / "bad.flow").write_text(BAD_FLOW, encoding="utf-8")
    r = run_chatflow("compile", "bad.flow", cwd=work)
    assert r.code == 1
    assert r.stdout == ""
    assert "error[E" in r.stderr
    assert "--> bad.flow:3:" in r.stderr
    assert "^^^^^" in r.stderr
    assert "\x1b[" not in r.stderr  # not a terminal: no colour
    assert "error:" in r.stderr.splitlines()[-1]


def test_compile_missing_file_exit_2(work: Path) -> None:
    r = run_chatflow("compile", "nope.flow", cwd=work)
    assert r.code == 2
    assert r.stderr.startswith("error: ")
    assert "nope.flow" in r.stderr


def test_compile_flow_selection(work: Path) -> None:
    (work / "pair.flow").write_text(TWO_FLOWS, encoding="utf-8")
    r = run_chatflow("compile", "pair.flow", cwd=work)
    assert r.code == 2
    assert "one" in r.stderr and "two" in r.stderr
    r = run_chatflow("compile", "pair.flow:two", cwd=work)
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["entry"] == "two"
    r = run_chatflow("compile", "pair.flow:three", cwd=work)
    assert r.code == 2
    assert "three" in r.stderr


# --------------------------------------------------------------------------- lint


def test_lint_examples_directory_is_clean() -> None:
    """The README's `chatflow lint examples/`, from the repository root (whose
    .chatflow/config.yaml defines the examples' agents): no error, no warning."""
    r = run_chatflow("lint", "examples/", cwd=EXAMPLES.parent)
    assert (r.code, r.stdout, r.stderr) == (0, "", "")


def test_lint_directory_recursively_finds_errors(work: Path) -> None:
    (work / "sub" / "deeper").mkdir(parents=True)
    (work / "sub" / "deeper" / "bad.flow").write_text(BAD_FLOW, encoding="utf-8")
    (work / "sub" / "notes.txt").write_text("not a flow", encoding="utf-8")
    r = run_chatflow("lint", ".", cwd=work)
    assert r.code == 1
    assert "sub/deeper/bad.flow:3:" in r.stderr
    assert "did you mean `build`?" in r.stderr


def test_lint_missing_path_exit_2(work: Path) -> None:
    r = run_chatflow("lint", "feature.flow", "missing.flow", cwd=work)
    assert r.code == 2
    assert "missing.flow" in r.stderr


def test_lint_json(work: Path) -> None:
    (work / "bad.flow").write_text(BAD_FLOW, encoding="utf-8")
    r = run_chatflow("lint", "bad.flow", "--format", "json", cwd=work)
    assert r.code == 1
    data = json.loads(r.stdout)
    assert isinstance(data, list) and data
    keys = {"code", "severity", "message", "file", "line", "column", "end_line",
            "end_column", "hint", "related"}
    assert all(keys <= set(d) for d in data)
    unknown = [d for d in data if d["line"] == 3 and d["severity"] == "error"]
    assert unknown and unknown[0]["file"] == "bad.flow"
    r = run_chatflow("lint", "feature.flow", "--format", "json", cwd=work)
    assert r.code == 0
    assert [d for d in json.loads(r.stdout) if d["severity"] == "error"] == []
    (work / "clean.flow").write_text('flow clean() {\n  step a: shell "true"\n}\n',
                                     encoding="utf-8")
    r = run_chatflow("lint", "clean.flow", "--format", "json", cwd=work)
    assert (r.code, json.loads(r.stdout)) == (0, [])


def test_lint_sarif(work: Path) -> None:
    (work / "bad.flow").write_text(BAD_FLOW, encoding="utf-8")
    r = run_chatflow("lint", "bad.flow", "feature.flow", "--format", "sarif", cwd=work)
    assert r.code == 1
    doc = json.loads(r.stdout)
    assert doc["version"] == "2.1.0"
    results = doc["runs"][0]["results"]
    assert results and results[0]["locations"][0]["physicalLocation"]["artifactLocation"][
        "uri"] == "bad.flow"
    import jsonschema

    jsonschema.validate(doc, json.loads(SARIF_SCHEMA.read_text(encoding="utf-8")))


def test_lint_warnings_do_not_fail(work: Path) -> None:
    # an unused parameter is a lint warning, not an error
    (work / "warn.flow").write_text(
        'flow warn(unused: int) {\n  step a: shell "true"\n}\n', encoding="utf-8")
    r = run_chatflow("lint", "warn.flow", "--format", "json", cwd=work)
    assert r.code == 0, r.output
    data = json.loads(r.stdout)
    assert data and all(d["severity"] == "warning" for d in data)


def test_lint_syntax_error_is_located(work: Path) -> None:
    (work / "syn.flow").write_text('flow s() {\n  step a shell "x"\n}\n', encoding="utf-8")
    r = run_chatflow("lint", "syn.flow", cwd=work)
    assert r.code == 1
    assert "--> syn.flow:2:" in r.stderr


def test_lint_yaml_error_is_located(work: Path) -> None:
    (work / "bad.yaml").write_text("flow: bad\nsteps:\n  - step: a\n    shell: [1, 2\n",
                                   encoding="utf-8")
    r = run_chatflow("lint", "bad.yaml", cwd=work)
    assert r.code == 1
    assert "--> bad.yaml:" in r.stderr


def test_lint_non_utf8_file(work: Path) -> None:
    (work / "latin.flow").write_bytes(b"flow f() {\n  step a: shell \"caf\xe9\"\n}\n")
    r = run_chatflow("lint", "latin.flow", cwd=work)
    assert r.code in (1, 2)
    assert "latin.flow" in r.stderr


# --------------------------------------------------------------------------- graph, schema


def test_graph_mermaid_and_dot(work: Path) -> None:
    r = run_chatflow("graph", "feature.flow", cwd=work)
    assert r.code == 0, r.stderr
    assert r.stdout.lstrip().startswith(("flowchart", "graph"))
    assert "build" in r.stdout
    r = run_chatflow("graph", "feature.flow", "--format", "dot", cwd=work)
    assert r.code == 0, r.stderr
    assert "digraph" in r.stdout


def test_graph_of_bad_flow_exit_1(work: Path) -> None:
    (work / "bad.flow").write_text(BAD_FLOW, encoding="utf-8")
    r = run_chatflow("graph", "bad.flow", cwd=work)
    assert r.code == 1
    assert r.stdout == ""
    assert "error[E" in r.stderr


@pytest.mark.parametrize("kind", ["yaml", "ir"])
def test_schema(kind: str) -> None:
    r = run_chatflow("schema", kind)
    assert r.code == 0, r.stderr
    schema = json.loads(r.stdout)
    assert "$schema" in schema
    import jsonschema

    jsonschema.validators.validator_for(schema).check_schema(schema)


def test_yaml_schema_accepts_the_example() -> None:
    import jsonschema
    import yaml

    schema = json.loads(run_chatflow("schema", "yaml").stdout)
    doc = yaml.safe_load((EXAMPLES / "feature.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)


def test_deep_parentheses_are_fine(work: Path) -> None:
    # parentheses only group: they add no nesting to the syntax tree
    (work / "parens.flow").write_text(
        "flow parens() -> (x: int) {\n  output x = " + "(" * 1000 + "1" + ")" * 1000 + "\n}\n",
        encoding="utf-8")
    assert run_chatflow("lint", "parens.flow", cwd=work).code == 0


@pytest.mark.parametrize(("open_", "close"), [
    ("[", "]"), ("-", ""), ("not ", ""), ("len(", ")"), ("1 + (", ")"),
])
def test_deep_nesting_is_a_diagnostic_not_a_crash(work: Path, open_: str, close: str) -> None:
    depth = MAX_NESTING + 1
    expr = open_ * depth + "1" + close * depth
    (work / "deep.flow").write_text(
        f"flow deep() -> (x: json) {{\n  output x = {expr}\n}}\n", encoding="utf-8")
    r = run_chatflow("lint", "deep.flow", cwd=work)  # asserts: no traceback, no exit 70
    assert r.code == 1
    assert "error[E0107]" in r.stderr


def test_deeply_nested_groups_are_a_diagnostic_not_a_crash(work: Path) -> None:
    depth = MAX_NESTING + 1
    body = "".join(f"phase p{i} {{\n" for i in range(depth)) + 'step a: shell "x"\n'
    body += "}\n" * depth
    (work / "groups.flow").write_text(f"flow groups() {{\n{body}}}\n", encoding="utf-8")
    r = run_chatflow("lint", "groups.flow", cwd=work)
    assert r.code == 1
    assert "error[E0107]" in r.stderr
