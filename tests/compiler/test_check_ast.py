"""Codes that `.flow` syntax cannot produce (the YAML front-end or hand-built
ASTs can): settings inside groups (E0406), misplaced group clauses (E0407)."""

from __future__ import annotations

from chatflow.compiler.check import check_program
from chatflow.compiler.loader import FlowUnit, Program
from chatflow.diagnostics import Diagnostic, Span
from chatflow.dsl import ast


def sp(line: int, col: int, width: int = 1) -> Span:
    return Span("h.flow", line, col, line, col + width)


def ident(name: str, line: int, col: int = 3) -> ast.Ident:
    return ast.Ident(name, sp(line, col, len(name)))


def step(name: str, line: int) -> ast.Step:
    cmd = ast.Literal("x", sp(line, 20))
    return ast.Step(ident(name, line, 8), None, None, ast.ShellAction(cmd, sp(line, 14)), (),
                    sp(line, 3))


def run(items: tuple[ast.Item, ...]) -> list[Diagnostic]:
    flow = ast.Flow(ident("f", 1, 6), (), (), items, sp(1, 1))
    module = ast.Module("h.flow", (), (flow,), sp(1, 1))
    unit = FlowUnit("f", module, flow, {"f": "f"}, is_root=True)
    _checked, diags = check_program(Program("h.flow", {"f": unit}, ["f"]))
    return diags


def test_setting_inside_group() -> None:
    setting = ast.Setting(ident("automation", 3), ast.Literal(5, sp(3, 14)), sp(3, 3))
    group = ast.Group("phase", ident("p", 2, 9), None, None, None, None,
                      (setting, step("s", 4)), sp(2, 3))
    diags = run((group,))
    assert [(d.code, d.message, d.span.line, d.span.column) for d in diags] == [
        ("E0406", "setting `automation` must be at the top level of the flow", 3, 3)]


def test_group_clauses() -> None:
    phase = ast.Group("phase", ident("p", 2, 9), None, None, ast.Literal(2, sp(2, 15)),
                      ast.Literal(True, sp(2, 23)), (step("s", 3),), sp(2, 3))
    repeat = ast.Group("repeat", ident("r", 4, 10), None, None, None, None,
                       (step("t", 5),), sp(4, 3))
    diags = run((phase, repeat))
    assert [(d.code, d.message, d.span.line) for d in diags] == [
        ("E0407", "`max` is not allowed on phase `p`", 2),
        ("E0407", "`until` is only for `repeat`, not phase `p`", 2),
        ("E0407", "repeat `r` needs `max N` and `until EXPR`", 4),
    ]
