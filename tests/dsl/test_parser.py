"""The `.flow` parser: every construct of docs/language.md §2-§6, spans, and the
public parse functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatflow.diagnostics import Span
from chatflow.dsl import ast
from chatflow.dsl.parser import parse_expression, parse_flow, parse_template, parse_type

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = Span("x.flow", 1, 1, 1, 1, 0, 0)


def flow_items(body: str, header: str = "flow f()") -> tuple[ast.Item, ...]:
    module, diags = parse_flow(f"{header} {{\n{body}\n}}\n", "t.flow")
    assert diags == [], diags
    assert module is not None
    return module.flows[0].items


def expr(text: str) -> ast.Expr:
    node, diags = parse_expression(text, ORIGIN)
    assert diags == [], diags
    assert node is not None
    return node


def show(e: ast.Expr | str) -> str:
    """A compact, fully parenthesised rendering to check structure."""
    if isinstance(e, str):
        return repr(e)
    if isinstance(e, ast.Literal):
        return repr(e.value)
    if isinstance(e, ast.DurationLit):
        return f"{e.millis}ms"
    if isinstance(e, ast.Name):
        return e.name
    if isinstance(e, ast.Attribute):
        return f"{show(e.value)}.{e.attr}"
    if isinstance(e, ast.Index):
        return f"{show(e.value)}[{show(e.index)}]"
    if isinstance(e, ast.Call):
        return f"{e.func.name}({', '.join(show(a) for a in e.args)})"
    if isinstance(e, ast.Unary):
        return f"({e.op} {show(e.operand)})"
    if isinstance(e, ast.Binary):
        return f"({show(e.left)} {e.op} {show(e.right)})"
    if isinstance(e, ast.ListExpr):
        return "[" + ", ".join(show(i) for i in e.items) + "]"
    if isinstance(e, ast.MapExpr):
        return "{" + ", ".join(f"{m.key.name}: {show(m.value)}" for m in e.entries) + "}"
    if isinstance(e, ast.Template):
        return "T(" + ", ".join(show(p) for p in e.parts) + ")"
    raise AssertionError(e)


# ---------------------------------------------------------------- the §1 example


def test_feature_example_parses() -> None:
    text = (ROOT / "examples" / "feature.flow").read_text()
    module, diags = parse_flow(text, "examples/feature.flow")
    assert diags == []
    assert module is not None
    assert [i.names[0].name for i in module.imports] == ["bugfix"]
    assert module.imports[0].source.value == "std"
    (flow,) = module.flows
    assert flow.name.name == "feature"
    assert [p.name.name for p in flow.params] == ["feature_id", "spec", "coverage_min"]
    assert flow.params[1].default == ast.Literal("", flow.params[1].default.span)  # type: ignore[union-attr]
    assert [(o.name.name, o.type.name) for o in flow.outputs] == [("merged", "bool")]
    kinds = [type(i).__name__ for i in flow.items]
    assert kinds == ["Setting", "Setting", "Setting", "Quota", "Setting", "Step", "Step",
                     "Group", "Step", "Step", "OutputItem"]
    quota = flow.items[3]
    assert isinstance(quota, ast.Quota)
    assert [(e.key.name, show(e.value)) for e in quota.entries] == [
        ("tokens", "200000"), ("cpu", "600000ms"), ("wall", "7200000ms"), ("steps", "500")]
    fix = flow.items[9]
    assert isinstance(fix, ast.Step) and isinstance(fix.action, ast.CallAction)
    assert [a.name for a in fix.after or ()] == ["checks"]
    assert show(fix.when) == "(not unit.ok)"  # type: ignore[arg-type]
    assert show(fix.action.args[0].value) == "T('tests failing for ', feature_id)"


def test_stdlib_bugfix_parses() -> None:
    text = (ROOT / "src" / "chatflow" / "stdlib" / "bugfix.flow").read_text()
    module, diags = parse_flow(text, "bugfix.flow")
    assert diags == []
    assert module is not None
    (flow,) = module.flows
    assert flow.name.name == "bugfix"
    assert [(p.name.name, p.type.name) for p in flow.params] == [
        ("issue", "str"), ("max_attempts", "int")]
    assert [o.name.name for o in flow.outputs] == ["fixed"]
    repeat = next(i for i in flow.items if isinstance(i, ast.Group))
    assert repeat.kind == "repeat" and show(repeat.max) == "3"  # type: ignore[arg-type]


# ---------------------------------------------------------------- structure


def test_imports_several_names_and_several_flows() -> None:
    src = ('import a, b from "std"\nimport c from "./other.flow"\n'
           "flow one() {}\nflow two(x: int) -> () {}\n")
    module, diags = parse_flow(src, "m.flow")
    assert diags == [] and module is not None
    assert [[n.name for n in i.names] for i in module.imports] == [["a", "b"], ["c"]]
    assert [i.source.value for i in module.imports] == ["std", "./other.flow"]
    assert [f.name.name for f in module.flows] == ["one", "two"]
    assert module.flows[1].outputs == ()


def test_empty_file_is_an_empty_module() -> None:
    module, diags = parse_flow("# nothing\n", "e.flow")
    assert diags == [] and module is not None
    assert module.flows == () and module.imports == ()


def test_params_outputs_and_types() -> None:
    src = ("flow f(a: str, b: int = 1, c: list[map[json]]?, d: float = -0.5,) "
           "-> (x: bool, y: duration?) {}")
    module, diags = parse_flow(src, "t.flow")
    assert diags == [] and module is not None
    f = module.flows[0]
    c = f.params[2].type
    assert (c.name, c.optional) == ("list", True)
    assert c.args[0].name == "map" and c.args[0].args[0].name == "json"
    assert show(f.params[3].default) == "(- 0.5)"  # type: ignore[arg-type]
    assert [(o.name.name, o.type.name, o.type.optional) for o in f.outputs] == [
        ("x", "bool", False), ("y", "duration", True)]


def test_settings_including_unknown_ones() -> None:
    items = flow_items('version "1"\ndescription "d"\nautomation 60\nmax_depth 3\n'
                       'parallelism "concurrent"\nfrobnicate 7')
    assert [(i.name.name, show(i.value)) for i in items] == [  # type: ignore[union-attr]
        ("version", "'1'"), ("description", "'d'"), ("automation", "60"),
        ("max_depth", "3"), ("parallelism", "'concurrent'"), ("frobnicate", "7")]


def test_var_and_output() -> None:
    var, out = flow_items("var n: int = 1 + 2\noutput r = n ?? 0")
    assert isinstance(var, ast.Var) and show(var.value) == "(1 + 2)"
    assert isinstance(out, ast.OutputItem) and out.name.name == "r"


def test_every_action() -> None:
    items = flow_items(
        'step a: shell "ls {x}"\n'
        'step b: python "pkg.mod:fn"\n'
        'step c: agent "coder"\n'
        'step d: approve "ok?"\n'
        'step e: call other(x: 1, y: "s",)\n'
        "step f: set n = n + 1\n"
        'step g: fail "boom"\n'
        'step h: frobnicate "arg"\n'
        "step i: launch\n")
    actions = [i.action for i in items]  # type: ignore[union-attr]
    assert [type(a).__name__ for a in actions] == [
        "ShellAction", "PythonAction", "AgentAction", "ApproveAction", "CallAction",
        "SetAction", "FailAction", "UnknownAction", "UnknownAction"]
    assert show(actions[0].command) == "T('ls ', x)"  # type: ignore[union-attr]
    assert actions[1].target.value == "pkg.mod:fn"  # type: ignore[union-attr]
    call = actions[4]
    assert isinstance(call, ast.CallAction)
    assert call.flow.name == "other" and [a.name.name for a in call.args] == ["x", "y"]
    assert isinstance(actions[5], ast.SetAction) and actions[5].target.name == "n"
    unknown = actions[7]
    assert isinstance(unknown, ast.UnknownAction) and unknown.name.name == "frobnicate"
    assert show(unknown.arg) == "'arg'"  # type: ignore[arg-type]
    assert actions[8].arg is None  # type: ignore[union-attr]


def test_every_option() -> None:
    (step,) = flow_items(
        'step a: shell "x" {\n'
        "  timeout 10m\n  retry 2 backoff 5s\n  risk 20\n  continue_on_error\n"
        '  prompt "p {y}"\n  with {timeout: 1, "k": [1, 2]}\n  env {HOME: "/h"}\n'
        '  cwd "/tmp"\n  out cov: float = json(stdout).coverage ?? 0.0\n'
        '  nonsense "v"\n  flag_only\n  retry 1\n'
        "}")
    assert isinstance(step, ast.Step)
    opts = step.options
    names = [o.name.name if isinstance(o, ast.Option | ast.OutField) else "retry" for o in opts]
    assert names == ["timeout", "retry", "risk", "continue_on_error", "prompt", "with", "env",
                     "cwd", "cov", "nonsense", "flag_only", "retry"]
    retry = opts[1]
    assert isinstance(retry, ast.RetryOption)
    assert show(retry.times) == "2" and show(retry.backoff) == "5000ms"  # type: ignore[arg-type]
    assert opts[3].value is None  # type: ignore[union-attr]
    assert show(opts[5].value) == "{timeout: 1, k: [1, 2]}"  # type: ignore[union-attr,arg-type]
    out = opts[8]
    assert isinstance(out, ast.OutField) and out.type.name == "float"
    assert show(out.value) == "(json(stdout).coverage ?? 0.0)"
    assert opts[10].value is None  # type: ignore[union-attr]
    assert isinstance(opts[11], ast.RetryOption) and opts[11].backoff is None


def test_step_after_and_when() -> None:
    a, b, c = flow_items('step a: shell "x"\nstep b after a: shell "y"\n'
                         'step c after a, b when a.ok and not b.ok: shell "z"')
    assert a.after is None and a.when is None  # type: ignore[union-attr]
    assert [n.name for n in b.after] == ["a"]  # type: ignore[union-attr]
    assert [n.name for n in c.after] == ["a", "b"]  # type: ignore[union-attr]
    assert show(c.when) == "(a.ok and (not b.ok))"  # type: ignore[union-attr,arg-type]


def test_groups() -> None:
    phase, par, rep = flow_items(
        'phase p after x when y { step a: shell "a" }\n'
        'parallel q max 2 { step b: shell "b"\n step c: shell "c" }\n'
        'repeat r after q when z max 3 until d.ok { step d: shell "d" }')
    assert isinstance(phase, ast.Group) and phase.kind == "phase"
    assert [n.name for n in phase.after or ()] == ["x"] and show(phase.when) == "y"  # type: ignore[arg-type]
    assert phase.max is None and phase.until is None
    assert isinstance(par, ast.Group) and par.kind == "parallel" and show(par.max) == "2"  # type: ignore[arg-type]
    assert len(par.items) == 2
    assert isinstance(rep, ast.Group) and rep.kind == "repeat"
    assert show(rep.max) == "3" and show(rep.until) == "d.ok"  # type: ignore[arg-type]
    assert show(rep.when) == "z"  # type: ignore[arg-type]


def test_nested_groups_and_iter_items() -> None:
    (outer,) = flow_items(
        'phase a { parallel b { repeat c max 2 until s.ok { step s: shell "x" } } }')
    names = [i.name.name for i in ast.iter_items((outer,))]  # type: ignore[union-attr]
    assert names == ["a", "b", "c", "s"]


def test_comments_and_free_newlines() -> None:
    items = flow_items('# leading\nstep a: # after colon\n  shell\n  "x"  # trailing\n'
                       'step b\n  when\n  a.ok\n  :\n  shell "y"')
    assert [i.name.name for i in items] == ["a", "b"]  # type: ignore[union-attr]


# ---------------------------------------------------------------- keywords as names


def test_keywords_where_a_name_is_expected() -> None:
    src = ('flow f(version: str, timeout: int, max: int, out: bool) -> (step: bool) {\n'
           '  step with: shell "x" { with {timeout: 1, prompt: 2, step: 3} }\n'
           "  step when: set max = max + timeout\n"
           "  output step = with.ok and out and when.ok\n"
           "}\n")
    module, diags = parse_flow(src, "k.flow")
    assert diags == [] and module is not None
    f = module.flows[0]
    assert [p.name.name for p in f.params] == ["version", "timeout", "max", "out"]
    s1 = f.items[0]
    assert isinstance(s1, ast.Step) and s1.name.name == "with"
    assert show(s1.options[0].value) == "{timeout: 1, prompt: 2, step: 3}"  # type: ignore[union-attr,arg-type]
    out = f.items[2]
    assert isinstance(out, ast.OutputItem)
    assert show(out.value) == "((with.ok and out) and when.ok)"


def test_attribute_named_like_a_keyword() -> None:
    assert show(expr("a.in.max.step")) == "a.in.max.step"


# ---------------------------------------------------------------- expressions


@pytest.mark.parametrize(("src", "expected"), [
    ("a ?? b or c", "(a ?? (b or c))"),
    ("a ?? b ?? c", "((a ?? b) ?? c)"),
    ("a or b and c", "(a or (b and c))"),
    ("not a and b", "((not a) and b)"),
    ("not a == b", "(not (a == b))"),
    ("a == b + c", "(a == (b + c))"),
    ("a in b", "(a in b)"),
    ("a + b * c", "(a + (b * c))"),
    ("a - b - c", "((a - b) - c)"),
    ("a / b % c", "((a / b) % c)"),
    ("-a * b", "((- a) * b)"),
    ("- -a", "(- (- a))"),
    ("-a.b", "(- a.b)"),
    ("a.b[0].c", "a.b[0].c"),
    ("len(x) + 1", "(len(x) + 1)"),
    ("f()", "f()"),
    ("f(a, b,)", "f(a, b)"),
    ("(a + b) * c", "((a + b) * c)"),
    ("x <= 1 or x >= 2 and x != 3 and x < 4 and x > 5",
     "((x <= 1) or ((((x >= 2) and (x != 3)) and (x < 4)) and (x > 5)))"),
    ("[1, [2], {}]", "[1, [2], {}]"),
    ('{a: 1, "b c": 2,}', "{a: 1, b c: 2}"),
    ("json(stdout).coverage ?? 0.0", "(json(stdout).coverage ?? 0.0)"),
])
def test_precedence(src: str, expected: str) -> None:
    assert show(expr(src)) == expected


@pytest.mark.parametrize(("src", "value"), [
    ("1", 1), ("200_000", 200000), ("0", 0), ("2.5", 2.5), ("1_000.5", 1000.5), ("1e3", 1000.0),
    ("2.5e-2", 0.025), ("true", True), ("false", False), ("null", None), ('"s"', "s"),
    ('"a\\n\\t\\"\\\\\\{\\}"', 'a\n\t"\\{}'),
])
def test_literals(src: str, value: object) -> None:
    node = expr(src)
    assert isinstance(node, ast.Literal)
    assert node.value == value and type(node.value) is type(value)


@pytest.mark.parametrize(("src", "millis"), [
    ("500ms", 500), ("30s", 30_000), ("10m", 600_000), ("2h", 7_200_000), ("1d", 86_400_000),
    ("1_000ms", 1000),
])
def test_durations(src: str, millis: int) -> None:
    node = expr(src)
    assert isinstance(node, ast.DurationLit)
    assert node.millis == millis and node.text == src


def test_template_parts_and_escapes() -> None:
    node = expr('"a {x} \\{lit\\} {y.z + 1}{w}"')
    assert isinstance(node, ast.Template)
    assert show(node) == "T('a ', x, ' {lit} ', (y.z + 1), w)"


def test_template_with_nested_string_and_map() -> None:
    node = expr('"v={x ?? "none"} m={len({a: 1})}"')
    assert show(node) == "T('v=', (x ?? 'none'), ' m=', len({a: 1}))"


def test_string_without_holes_is_a_literal() -> None:
    node = expr('"plain \\{ text"')
    assert isinstance(node, ast.Literal) and node.value == "plain { text"


# ---------------------------------------------------------------- spans


def test_spans_of_step_and_parts() -> None:
    src = 'flow f() {\n  step build after a when x.ok: shell "make {t}" {\n    timeout 1m\n  }\n}\n'
    module, diags = parse_flow(src, "s.flow")
    assert diags == [] and module is not None
    step = module.flows[0].items[0]
    assert isinstance(step, ast.Step)
    sp = step.span
    assert (sp.line, sp.column, sp.end_line, sp.end_column) == (2, 3, 4, 4)
    assert src[step.span.start:step.span.end].startswith("step build")
    assert src[step.span.start:step.span.end].endswith("}")
    assert (step.name.span.line, step.name.span.column, step.name.span.end_column) == (2, 8, 13)
    assert step.after is not None
    assert (step.after[0].span.column, step.after[0].span.end_column) == (20, 21)
    when = step.when
    assert isinstance(when, ast.Attribute)
    assert (when.span.column, when.span.end_column) == (27, 31)
    assert (when.attr_span.column, when.attr_span.end_column) == (29, 31)
    cmd = step.action.command  # type: ignore[union-attr]
    assert isinstance(cmd, ast.Template)
    assert src[cmd.span.start:cmd.span.end] == '"make {t}"'
    hole = cmd.parts[1]
    assert isinstance(hole, ast.Name)
    assert (hole.span.line, hole.span.column, hole.span.end_column) == (2, 46, 47)
    assert src[hole.span.start:hole.span.end] == "t"


def test_spans_inside_complex_hole() -> None:
    src = 'flow f() {\n  output o = "n={a.b + len(c)}"\n}'
    module, _ = parse_flow(src, "s.flow")
    assert module is not None
    out = module.flows[0].items[0]
    t = out.value  # type: ignore[union-attr]
    assert isinstance(t, ast.Template)
    binary = t.parts[1]
    assert isinstance(binary, ast.Binary)
    assert src[binary.span.start:binary.span.end] == "a.b + len(c)"
    assert (binary.span.line, binary.span.column) == (2, 18)
    call = binary.right
    assert src[call.span.start:call.span.end] == "len(c)"
    assert call.span.column == 24


def test_every_span_matches_its_text() -> None:
    text = (ROOT / "examples" / "feature.flow").read_text()
    module, _ = parse_flow(text, "f.flow")
    assert module is not None
    lines = text.split("\n")
    count = 0
    for node in _walk(module):
        span = node.span
        assert 0 <= span.start <= span.end <= len(text)
        # line/column and offsets agree
        assert sum(len(x) + 1 for x in lines[:span.line - 1]) + span.column - 1 == span.start
        assert sum(len(x) + 1 for x in lines[:span.end_line - 1]) + span.end_column - 1 == span.end
        count += 1
    assert count > 100


def _walk(node: object) -> list[ast.Ident | ast.Expr]:
    out: list[object] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, tuple):
            stack.extend(n)
            continue
        if not hasattr(n, "__dataclass_fields__") or isinstance(n, Span):
            continue
        out.append(n)
        for f in n.__dataclass_fields__:
            stack.append(getattr(n, f))
    return [n for n in out if hasattr(n, "span")]  # type: ignore[misc]


def test_parse_expression_uses_origin() -> None:
    node, diags = parse_expression("a + b", Span("w.yaml", 7, 12, 7, 17, 100, 105))
    assert diags == [] and isinstance(node, ast.Binary)
    sp = node.span
    assert (sp.file, sp.line, sp.column, sp.start) == ("w.yaml", 7, 12, 100)
    assert (node.right.span.column, node.right.span.start) == (16, 104)


def test_parse_template_and_type_use_origin() -> None:
    origin = Span("w.yaml", 3, 5, 3, 5, 40, 40)
    t, diags = parse_template("go {x}", origin)
    assert diags == [] and isinstance(t, ast.Template)
    hole = t.parts[1]
    assert isinstance(hole, ast.Name) and (hole.span.line, hole.span.column) == (3, 9)
    assert hole.span.start == 44
    lit, _ = parse_template("plain", origin)
    assert lit == ast.Literal("plain", Span("w.yaml", 3, 5, 3, 10, 40, 45))
    ty, diags = parse_type("map[int]?", origin)
    assert diags == [] and ty is not None
    assert (ty.name, ty.args[0].name, ty.optional) == ("map", "int", True)
    assert (ty.span.column, ty.span.end_column) == (5, 14)


def test_parse_expression_reports_errors_at_origin() -> None:
    node, diags = parse_expression("a +", Span("w.yaml", 2, 8, 2, 11, 30, 33))
    assert node is None
    (d,) = diags
    assert d.code == "E0101" and d.span.file == "w.yaml"
    assert (d.span.line, d.span.column) == (2, 11)
    assert "expected an expression after `+`" in d.message


def test_parse_type_rejects_garbage() -> None:
    node, diags = parse_type("list[", ORIGIN)
    assert node is None and diags and diags[0].code in ("E0101", "E0106")
