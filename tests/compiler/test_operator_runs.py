"""A run of one binary operator (`a and b and c`, `x + y + z`): one nesting
level however long, one IR operation with every operand, checked and
evaluated exactly as the nested form `(a and b) and c` it stands for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatflow.compiler.api import compile_path
from chatflow.compiler.ir import expr_text, load_ir
from chatflow.deep import room
from chatflow.diagnostics import Severity
from chatflow.dsl.parser import MAX_NESTING
from chatflow.runtime.evaluator import EvalError, MapScope, evaluate

RUN_OPS = ("and", "or", "??", "+", "-", "*", "/", "%")


def compile_output(tmp_path: Path, expr: str, out_type: str = "json",
                   params: str = "x: bool = true, n: int = 2, s: str? = null"
                   ) -> tuple[dict[str, Any] | None, list[Any]]:
    """The IR of `output r = EXPR` and the compile errors (warnings left out)."""
    path = tmp_path / "t.flow"
    path.write_text(f"flow t({params}) -> (r: {out_type}) {{\n  output r = {expr}\n}}\n",
                    encoding="utf-8")
    result = compile_path(str(path))
    value = None
    if result.ir is not None:
        value = result.ir["flows"]["t"]["outputs"][0]["value"]
    return value, [d for d in result.diagnostics if d.severity is Severity.ERROR]


@pytest.mark.parametrize("op", RUN_OPS)
def test_a_long_run_is_one_operation(tmp_path: Path, op: str) -> None:
    term = {"and": "x", "or": "x", "??": "s"}.get(op, "n")
    out_type = {"and": "bool", "or": "bool", "??": "str?", "/": "float"}.get(op, "int")
    value, diags = compile_output(tmp_path, f" {op} ".join([term] * 2000), out_type)
    assert diags == [] and value is not None
    assert value["op"] == op and len(value["args"]) == 2000
    assert all("op" not in a for a in value["args"])


def test_parentheses_and_operator_changes_nest(tmp_path: Path) -> None:
    value, _ = compile_output(tmp_path, "(n + n) + n - n + (n + n)", "int")
    assert value == {"op": "+", "args": [
        {"op": "-", "args": [{"op": "+", "args": [{"param": "n"}] * 3}, {"param": "n"}]},
        {"op": "+", "args": [{"param": "n"}] * 2}]}
    value, _ = compile_output(tmp_path, "x and (x and x)", "bool")
    assert value == {"op": "and", "args": [
        {"param": "x"}, {"op": "and", "args": [{"param": "x"}] * 2}]}


def test_a_mistake_deep_in_a_long_run_is_reported_at_its_operand(tmp_path: Path) -> None:
    terms = ["x"] * 600
    terms[400] = "n"
    _, diags = compile_output(tmp_path, " and ".join(terms), "bool")
    assert [(d.code, d.message) for d in diags] == [("E0301", "`and` needs `bool`, found `int`")]
    column = len("  output r = ") + 1 + len(" and ".join([*terms[:400], ""]))
    assert (diags[0].span.line, diags[0].span.column) == (2, column)


def test_nesting_past_the_limit_is_refused_at_compile_time(tmp_path: Path) -> None:
    deeper = MAX_NESTING + 1
    for expr in ("not (" * deeper + "x" + ")" * deeper, "x and (" * deeper + "x" + ")" * deeper):
        value, diags = compile_output(tmp_path, expr, "bool")
        assert value is None
        assert [d.code for d in diags] == ["E0107"]
        assert diags[0].message == f"nested too deeply (more than {MAX_NESTING} levels)"


def test_string_holes_count_in_the_depth(tmp_path: Path) -> None:
    """A hole's expression is nested inside its string (`fmt` in the IR), so
    whatever compiles stays within what the evaluator can evaluate."""
    half = MAX_NESTING // 2
    inner = "not (" * half + "x" + ")" * half
    expr = "not (" * half + f'len("{{{inner}}}") > 0' + ")" * half
    value, diags = compile_output(tmp_path, expr, "bool")
    assert value is None and [d.code for d in diags] == ["E0107"]
    fits = (MAX_NESTING - 4) // 2
    inner = "not (" * fits + "x" + ")" * fits
    expr = "not (" * fits + f'len("{{{inner}}}") > 0' + ")" * fits
    value, diags = compile_output(tmp_path, expr, "bool")
    assert diags == [] and value is not None
    with room():
        assert evaluate(value, MapScope(params={"x": True})) is True


@pytest.mark.parametrize(("expr", "want"), [
    ("10 - 1 - 2 - 3", 4),
    ("100 / 2 / 5", 10.0),
    ("2 * 3 * 4 % 5", 4),
    ("50 % 7 % 3", 1),
    ('"a" + "b" + "c"', "abc"),
    ("[1] + [2] + [3]", [1, 2, 3]),
    ("1s + 2s + 3ms", 3003),
    ("null ?? null ?? 3 ?? 4", 3),
    ("false or false or true", True),
    ("true and true and false", False),
])
def test_runs_evaluate_like_the_nested_form(tmp_path: Path, expr: str, want: Any) -> None:
    value, diags = compile_output(tmp_path, expr, "json")
    assert value is not None, diags
    assert evaluate(value, MapScope()) == want
    assert expr_text(value) == expr
    assert expr_text(value) == expr


def test_runs_short_circuit_and_fail_where_the_nested_form_fails(tmp_path: Path) -> None:
    value, _ = compile_output(tmp_path, "x and false and int(\"no\") == 1", "bool")
    assert value is not None
    assert evaluate(value, MapScope(params={"x": True})) is False
    value, _ = compile_output(tmp_path, "n / 0 / int(\"no\")", "float")
    assert value is not None
    with pytest.raises(EvalError, match="division by zero"):
        evaluate(value, MapScope(params={"n": 2}))


def test_ir_with_runs_loads(tmp_path: Path) -> None:
    path = tmp_path / "t.flow"
    path.write_text("flow t(x: bool = true) -> (r: bool) {\n"
                    "  step a: shell \"true\"\n"
                    "  step b when " + " and ".join(["a.ok"] * 300) + ": shell \"true\"\n"
                    "  output r = " + " or ".join(["x"] * 300) + "\n}\n", encoding="utf-8")
    result = compile_path(str(path))
    assert result.ir is not None
    load_ir(result.ir)
