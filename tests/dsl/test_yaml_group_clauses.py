"""Group clauses (`max`, `until`) in the YAML form on the wrong kind of group
are reported once, by the checker (E0407), not also by the schema (E0111);
the schema's hint for them elsewhere names the right group."""

from __future__ import annotations

from pathlib import Path

from chatflow.compiler.check import check_program
from chatflow.compiler.loader import load_program
from chatflow.diagnostics import Diagnostic
from chatflow.dsl import ast
from chatflow.dsl.yaml_front import parse_yaml


def check(tmp_path: Path, text: str) -> list[Diagnostic]:
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    program, diags = load_program(str(path))
    _checked, more = check_program(program)
    return diags + more


def group(kind: str, clauses: str) -> str:
    return (f"flow: f\nsteps:\n  - {kind}: g\n{clauses}    steps:\n"
            "      - step: a\n        shell: echo\n")


def codes(diags: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.column) for d in diags]


def test_until_on_a_phase_is_read_and_not_a_schema_error() -> None:
    module, diags = parse_yaml(group("phase", '    until: "true"\n'), "t.yaml")
    assert diags == []
    assert module is not None
    g = module.flows[0].items[0]
    assert isinstance(g, ast.Group) and g.until is not None


def test_until_on_a_phase_is_one_e0407(tmp_path: Path) -> None:
    diags = check(tmp_path, group("phase", '    until: "true"\n'))
    assert codes(diags) == [("E0407", 4, 13)]
    assert diags[0].message == "`until` is only for `repeat`, not phase `g`"


def test_until_on_a_parallel_and_max_on_a_phase_are_one_e0407_each(tmp_path: Path) -> None:
    assert codes(check(tmp_path, group("parallel", '    until: "true"\n'))) == [
        ("E0407", 4, 13)]
    assert codes(check(tmp_path, group("phase", "    max: 2\n"))) == [("E0407", 4, 10)]


def test_repeat_without_max_and_until_is_one_e0407(tmp_path: Path) -> None:
    diags = check(tmp_path, group("repeat", ""))
    assert [(d.code, d.message) for d in diags] == [
        ("E0407", "repeat `g` needs `max N` and `until EXPR`")]


def test_a_clause_the_builder_cannot_read_stays_a_schema_error() -> None:
    _module, diags = parse_yaml(group("phase", "    until: [1]\n"), "t.yaml")
    assert [(d.code, d.message, d.hint) for d in diags] == [
        ("E0111", "unknown key `until` in phase `g`", "`until` belongs to a `repeat` group")]


def test_until_on_a_step_names_repeat_in_the_hint() -> None:
    text = 'flow: f\nsteps:\n  - step: a\n    shell: echo\n    until: "true"\n'
    _module, diags = parse_yaml(text, "t.yaml")
    assert [(d.code, d.hint) for d in diags] == [
        ("E0111", "`until` belongs to a `repeat` group")]
    text = "flow: f\nsteps:\n  - step: a\n    shell: echo\n    max: 2\n"
    _module, diags = parse_yaml(text, "t.yaml")
    assert [(d.code, d.hint) for d in diags] == [
        ("E0111", "`max` belongs to a `parallel` or `repeat` group")]
