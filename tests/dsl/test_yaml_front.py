"""The YAML front-end (docs/language.md §9): AST shapes, spans into the YAML file,
every E011x code at its line and column, multi-flow files, and the twin of
examples/feature.flow."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from chatflow.diagnostics import Diagnostic, Span
from chatflow.dsl import ast
from chatflow.dsl.yaml_front import CODES, parse_yaml
from chatflow.dsl.yaml_nodes import MAX_DEPTH
from chatflow.dsl.yaml_schema import schema, schema_text

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
DUMMY = Span("<normalised>", 0, 0, 0, 0, 0, 0)


def strip_spans(value: Any) -> Any:
    """The same tree with every Span replaced by one dummy."""
    if isinstance(value, Span):
        return DUMMY
    if isinstance(value, tuple):
        return tuple(strip_spans(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: strip_spans(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value


def parse(text: str, path: str = "t.yaml") -> tuple[ast.Module | None, list[Diagnostic]]:
    return parse_yaml(text, path)


def parse_ok(text: str) -> ast.Module:
    module, diags = parse(text)
    assert diags == [], [f"{d.code} {d.span.line}:{d.span.column} {d.message}" for d in diags]
    assert module is not None
    return module


def one_flow(text: str) -> ast.Flow:
    module = parse_ok(text)
    assert len(module.flows) == 1
    return module.flows[0]


def only(diags: list[Diagnostic], code: str) -> Diagnostic:
    matching = [d for d in diags if d.code == code]
    assert len(matching) == 1, [(d.code, d.message) for d in diags]
    return matching[0]


def where(d: Diagnostic) -> tuple[int, int]:
    return d.span.line, d.span.column


def steps_of(flow: ast.Flow) -> list[ast.Step]:
    return [i for i in ast.iter_items(flow.items) if isinstance(i, ast.Step)]


def step_yaml(body: str) -> str:
    """A flow with one step whose keys are `body` (indented by the helper)."""
    lines = body.strip("\n").splitlines()
    return "flow: f\nsteps:\n  - " + "\n    ".join(lines) + "\n"


# --------------------------------------------------------------------------- the twin


def test_feature_yaml_parses_clean() -> None:
    module = parse_ok((EXAMPLES / "feature.yaml").read_text(encoding="utf-8"))
    flow = module.flows[0]
    assert flow.name.name == "feature"
    kinds = [type(i).__name__ for i in flow.items]
    assert kinds == ["Setting", "Setting", "Setting", "Quota", "Setting", "Step",
                     "Step", "Group", "Step", "Step", "OutputItem"]
    settings = [i.name.name for i in flow.items if isinstance(i, ast.Setting)]
    assert settings == ["version", "description", "automation", "max_depth"]
    assert [i.names[0].name for i in module.imports] == ["bugfix"]
    assert module.imports[0].source.value == "std"


def test_feature_yaml_and_flow_give_the_same_ast() -> None:
    from chatflow.dsl.parser import parse_flow

    flow_text = (EXAMPLES / "feature.flow").read_text(encoding="utf-8")
    yaml_text = (EXAMPLES / "feature.yaml").read_text(encoding="utf-8")
    from_flow, flow_diags = parse_flow(flow_text, "feature.flow")
    from_yaml, yaml_diags = parse_yaml(yaml_text, "feature.yaml")
    assert flow_diags == [] and yaml_diags == []
    assert from_flow is not None and from_yaml is not None
    a, b = strip_spans(from_flow), strip_spans(from_yaml)
    assert a.imports == b.imports
    assert a.flows[0].params == b.flows[0].params
    assert a.flows[0].outputs == b.flows[0].outputs
    for x, y in zip(a.flows[0].items, b.flows[0].items, strict=True):
        assert x == y
    assert dataclasses.replace(a, path="") == dataclasses.replace(b, path="")


# --------------------------------------------------------------------------- flow-level fields


def test_params_outputs_settings_quota_vars() -> None:
    flow = one_flow(
        "flow: f\n"
        "params:\n"
        "  a: str\n"
        "  b: {type: 'list[int]?', default: null}\n"
        "  c: {type: float, default: 0.8}\n"
        "  d: {type: int, default: 0}\n"
        "  e: {type: duration, default: 90s}\n"
        "  g: {type: str, default: '{not_interpolated}'}\n"
        "outputs: {x: bool, y: 'map[json]'}\n"
        "parallelism: concurrent\n"
        "max_depth: 4\n"
        "quota: {steps: 5, wall: 1d, tokens: 1_000}\n"
        "vars:\n"
        "  n: {type: int, value: 0}\n"
        "  m: {type: float, value: 'n * 2.5'}\n"
        "automation: 100\n"
    )
    a, b, c, d, e, g = flow.params
    assert (a.name.name, a.type.name, a.default) == ("a", "str", None)
    assert b.type.name == "list" and b.type.optional and b.type.args[0].name == "int"
    assert isinstance(b.default, ast.Literal) and b.default.value is None
    assert isinstance(c.default, ast.Literal) and type(c.default.value) is float
    assert isinstance(d.default, ast.Literal) and type(d.default.value) is int
    assert isinstance(e.default, ast.DurationLit) and e.default.millis == 90_000
    assert isinstance(g.default, ast.Literal) and g.default.value == "{not_interpolated}"
    assert [(o.name.name, o.type.name) for o in flow.outputs] == [("x", "bool"), ("y", "map")]
    items = flow.items
    assert [type(i).__name__ for i in items] == ["Setting", "Setting", "Quota", "Var", "Var",
                                                  "Setting"]
    parallelism, max_depth, quota, n, m, automation = items
    assert isinstance(parallelism, ast.Setting) and parallelism.value == ast.Literal(
        "concurrent", parallelism.value.span)
    assert isinstance(max_depth, ast.Setting) and isinstance(max_depth.value, ast.Literal)
    assert max_depth.value.value == 4
    assert isinstance(quota, ast.Quota)
    assert [(q.key.name, strip_spans(q.value)) for q in quota.entries] == [
        ("steps", ast.Literal(5, DUMMY)),
        ("wall", ast.DurationLit(86_400_000, "1d", DUMMY)),
        ("tokens", ast.Literal(1000, DUMMY)),
    ]
    assert isinstance(n, ast.Var) and strip_spans(n.value) == ast.Literal(0, DUMMY)
    assert isinstance(m, ast.Var) and isinstance(m.value, ast.Binary) and m.value.op == "*"
    assert isinstance(automation, ast.Setting) and automation.name.name == "automation"


def test_output_items_come_last_in_key_order() -> None:
    flow = one_flow(
        "flow: f\n"
        "outputs: {a: bool, b: int}\n"
        "output: {b: 'len([1, 2])', a: true}\n"
        "steps:\n"
        "  - {step: s, shell: 'true'}\n"
    )
    assert isinstance(flow.items[0], ast.Step)
    outs = [i for i in flow.items if isinstance(i, ast.OutputItem)]
    assert [o.name.name for o in outs] == ["b", "a"]
    assert isinstance(outs[0].value, ast.Call)
    assert strip_spans(outs[1].value) == ast.Literal(True, DUMMY)


# --------------------------------------------------------------------------- steps


def test_every_action_in_yaml() -> None:
    flow = one_flow(
        "flow: f\n"
        "vars: {n: {type: int, value: '0'}}\n"
        "steps:\n"
        "  - {step: a, shell: 'echo {n}'}\n"
        "  - {step: b, python: 'pkg.mod:fn'}\n"
        "  - {step: c, agent: coder}\n"
        "  - {step: d, approve: 'Ship it?'}\n"
        "  - {step: e, call: other, with: {x: 1, y: '{n}', z: 'n={n}'}}\n"
        "  - {step: g, set: n, value: n + 1}\n"
        "  - {step: h, fail: 'boom {n}'}\n"
    )
    a, b, c, d, e, g, h = steps_of(flow)
    assert isinstance(a.action, ast.ShellAction) and isinstance(a.action.command, ast.Template)
    assert isinstance(b.action, ast.PythonAction) and b.action.target.value == "pkg.mod:fn"
    assert isinstance(c.action, ast.AgentAction) and c.action.agent.value == "coder"
    assert isinstance(d.action, ast.ApproveAction)
    assert strip_spans(d.action.message) == ast.Literal("Ship it?", DUMMY)
    assert isinstance(e.action, ast.CallAction) and e.action.flow.name == "other"
    assert e.options == ()  # a call's `with` holds its arguments, not an option
    x, y, z = e.action.args
    assert strip_spans(x.value) == ast.Literal(1, DUMMY)
    assert strip_spans(y.value) == ast.Name("n", DUMMY)
    assert isinstance(z.value, ast.Template)
    assert isinstance(g.action, ast.SetAction) and g.action.target.name == "n"
    assert isinstance(g.action.value, ast.Binary) and g.action.value.op == "+"
    assert isinstance(h.action, ast.FailAction) and isinstance(h.action.message, ast.Template)


def test_options_keep_yaml_key_order() -> None:
    flow = one_flow(step_yaml(
        "step: s\n"
        "out: {n: {type: int, value: 'len(stdout)'}, ok2: {type: bool, value: ok}}\n"
        "retry: {times: 2, backoff: 5s}\n"
        "shell: make\n"
        "env: {HOME: /tmp, DEPTH: '{ctx.depth}'}\n"
        "continue_on_error: true\n"
        "timeout: 10m\n"
        "risk: 20\n"
        "prompt: 'p {ctx.attempt}'\n"
        "cwd: build\n"
        "with: {flag: true, n: null, items: [1, '{ctx.depth}'], m: {k: v}}\n"
    ))
    (step,) = steps_of(flow)
    names = [o.name.name if isinstance(o, ast.Option | ast.OutField) else "retry"
             for o in step.options]
    assert names == ["n", "ok2", "retry", "env", "continue_on_error", "timeout", "risk",
                     "prompt", "cwd", "with"]
    opts = {o.name.name: o for o in step.options if isinstance(o, ast.Option)}
    retry = next(o for o in step.options if isinstance(o, ast.RetryOption))
    assert strip_spans(retry.times) == ast.Literal(2, DUMMY)
    assert strip_spans(retry.backoff) == ast.DurationLit(5000, "5s", DUMMY)
    assert strip_spans(opts["timeout"].value) == ast.DurationLit(600_000, "10m", DUMMY)
    assert strip_spans(opts["risk"].value) == ast.Literal(20, DUMMY)
    assert opts["continue_on_error"].value is None
    assert isinstance(opts["prompt"].value, ast.Template)
    assert strip_spans(opts["cwd"].value) == ast.Literal("build", DUMMY)
    env = opts["env"].value
    assert isinstance(env, ast.MapExpr)
    assert [e.key.name for e in env.entries] == ["HOME", "DEPTH"]
    assert isinstance(env.entries[1].value, ast.Attribute)
    with_map = opts["with"].value
    assert isinstance(with_map, ast.MapExpr)
    flag, n, items, m = (e.value for e in with_map.entries)
    assert strip_spans(flag) == ast.Literal(True, DUMMY)
    assert strip_spans(n) == ast.Literal(None, DUMMY)
    assert isinstance(items, ast.ListExpr) and isinstance(items.items[1], ast.Attribute)
    assert isinstance(m, ast.MapExpr) and m.entries[0].key.name == "k"
    out = [o for o in step.options if isinstance(o, ast.OutField)]
    assert out[0].type.name == "int" and isinstance(out[0].value, ast.Call)


def test_retry_shorthand_and_continue_on_error_false() -> None:
    flow = one_flow(step_yaml("step: s\nshell: x\nretry: 3\ncontinue_on_error: false\n"))
    (step,) = steps_of(flow)
    assert len(step.options) == 1
    retry = step.options[0]
    assert isinstance(retry, ast.RetryOption) and retry.backoff is None
    assert strip_spans(retry.times) == ast.Literal(3, DUMMY)


def test_after_when_and_groups() -> None:
    flow = one_flow(
        "flow: f\n"
        "steps:\n"
        "  - {step: a, shell: x}\n"
        "  - phase: p\n"
        "    after: a\n"
        "    when: a.ok\n"
        "    steps:\n"
        "      - parallel: q\n"
        "        max: 2\n"
        "        steps: [{step: b, shell: x}, {step: c, shell: x, after: [a, b]}]\n"
        "  - repeat: r\n"
        "    max: 5\n"
        "    until: d.ok or ctx.attempt > 3\n"
        "    steps:\n"
        "      - {step: d, shell: x}\n"
        "  - {parallel: empty, steps: []}\n"
    )
    a, p, r, empty = flow.items
    assert isinstance(a, ast.Step) and a.after is None and a.when is None
    assert isinstance(p, ast.Group) and p.kind == "phase"
    assert [i.name for i in p.after or ()] == ["a"]
    assert isinstance(p.when, ast.Attribute) and p.max is None and p.until is None
    (q,) = p.items
    assert isinstance(q, ast.Group) and q.kind == "parallel"
    assert strip_spans(q.max) == ast.Literal(2, DUMMY)
    _b, c = q.items
    assert isinstance(c, ast.Step) and [i.name for i in c.after or ()] == ["a", "b"]
    assert isinstance(r, ast.Group) and r.kind == "repeat"
    assert strip_spans(r.max) == ast.Literal(5, DUMMY)
    assert isinstance(r.until, ast.Binary) and r.until.op == "or"
    assert isinstance(empty, ast.Group) and empty.items == () and empty.max is None


def test_value_field_kinds() -> None:
    flow = one_flow(step_yaml(
        "step: s\ncall: g\n"
        "with: {i: 3, f: 0.5, b: false, z: null, e: '{limit}', t: '{a}{b}', "
        "s: plain, q: '{ {k: 1} }'}\n"
    ))
    (step,) = steps_of(flow)
    assert isinstance(step.action, ast.CallAction)
    got = {a.name.name: strip_spans(a.value) for a in step.action.args}
    assert got["i"] == ast.Literal(3, DUMMY)
    assert got["f"] == ast.Literal(0.5, DUMMY) and type(got["f"].value) is float
    assert got["b"] == ast.Literal(False, DUMMY)
    assert got["z"] == ast.Literal(None, DUMMY)
    assert got["e"] == ast.Name("limit", DUMMY)
    assert isinstance(got["t"], ast.Template) and len(got["t"].parts) == 2
    assert got["s"] == ast.Literal("plain", DUMMY)
    assert isinstance(got["q"], ast.MapExpr)


def test_merge_keys_expand_in_place() -> None:
    flow = one_flow(
        "flow: f\n"
        "steps:\n"
        "  - step: a\n"
        "    shell: x\n"
        "    <<: &common {timeout: 1m, risk: 5}\n"
        "  - step: b\n"
        "    risk: 7\n"
        "    <<: *common\n"
        "    shell: y\n"
    )
    a, b = steps_of(flow)
    assert [o.name.name for o in a.options if isinstance(o, ast.Option)] == ["timeout", "risk"]
    b_opts = [o for o in b.options if isinstance(o, ast.Option)]
    assert [o.name.name for o in b_opts] == ["risk", "timeout"]
    assert strip_spans(b_opts[0].value) == ast.Literal(7, DUMMY)


# --------------------------------------------------------------------------- spans


def test_expression_spans_point_into_the_yaml_file() -> None:
    text = (
        "flow: f\n"
        "steps:\n"
        "  - step: s\n"
        '    when: "ctx.depth == 0"\n'
        "    shell: echo {ctx.depth}\n"
    )
    (step,) = steps_of(one_flow(text))
    assert isinstance(step.when, ast.Binary)
    left = step.when.left
    assert (left.span.line, left.span.column) == (4, 12)  # after the opening quote
    assert text[left.span.start:left.span.end] == "ctx.depth"
    assert isinstance(step.action, ast.ShellAction)
    command = step.action.command
    assert isinstance(command, ast.Template)
    hole = command.parts[1]
    assert not isinstance(hole, str)
    assert (hole.span.line, hole.span.column) == (5, 18)
    assert text[hole.span.start:hole.span.end] == "ctx.depth"
    assert step.name.span == Span("t.yaml", 3, 11, 3, 12, 25, 26)


def test_expression_errors_are_located_in_the_yaml_file() -> None:
    _module, diags = parse(step_yaml("step: s\nshell: x\nwhen: 'a and and b'\n"))
    assert diags and all(d.is_error for d in diags)
    d = diags[0]
    assert d.span.file == "t.yaml" and d.span.line == 5
    assert 11 <= d.span.column <= 24


# --------------------------------------------------------------------------- multi-flow files


def test_several_flows_with_imports() -> None:
    module = parse_ok(
        "imports: [{from: std, names: [bugfix]}]\n"
        "flows:\n"
        "  - flow: a\n"
        "    imports: [{from: ./lib.flow, names: lint}]\n"
        "    steps: [{step: s, call: b}]\n"
        "  - flow: b\n"
        "    params: {x: {type: int, default: 1}}\n"
        "    steps: [{step: t, shell: 'echo {x}'}]\n"
    )
    assert [f.name.name for f in module.flows] == ["a", "b"]
    assert [(i.source.value, [n.name for n in i.names]) for i in module.imports] == [
        ("std", ["bugfix"]), ("./lib.flow", ["lint"])]
    assert module.path == "t.yaml"


def test_flows_list_errors_are_per_flow() -> None:
    module, diags = parse("flows:\n  - flow: a\n  - flwo: b\n")
    d = only(diags, "E0111")
    assert where(d) == (3, 5) and d.hint == "did you mean `flow`?"
    assert module is not None and [f.name.name for f in module.flows] == ["a"]


# --------------------------------------------------------------------------- diagnostics


def test_e0110_syntax_error_line_and_column() -> None:
    module, diags = parse("flow: f\nsteps:\n  - step: a\n   shell: x\n")
    d = only(diags, "E0110")
    assert module is None
    assert where(d) == (4, 4)
    assert "YAML syntax error" in d.message


def test_e0110_tabs() -> None:
    _, diags = parse("flow: f\nsteps:\n\t- step: a\n")
    d = only(diags, "E0110")
    assert where(d) == (3, 1) and d.hint is not None and "tabs" in d.hint


def test_e0110_binary_junk() -> None:
    module, diags = parse("flow: f\x00\x07\n")
    d = only(diags, "E0110")
    assert module is None and where(d) == (1, 8)


def test_e0111_unknown_key_with_did_you_mean() -> None:
    _, diags = parse(step_yaml("step: a\nshell: x\ntimout: 10m\n"))
    d = only(diags, "E0111")
    assert where(d) == (5, 5)
    assert d.message == "unknown key `timout` in step `a`"
    assert d.hint == "did you mean `timeout`?"


def test_e0111_misspelt_required_key_is_reported_once() -> None:
    _, diags = parse(step_yaml("stpe: a\nshell: x\n"))
    d = only(diags, "E0111")
    assert where(d) == (3, 5) and d.hint == "did you mean `step`?"


def test_e0111_wrong_type() -> None:
    _, diags = parse("flow: f\nversion: 1.1\nautomation: high\n")
    first, second = diags
    assert (first.code, where(first)) == ("E0111", (2, 10))
    assert "`version` must be a string" in first.message and first.hint == 'quote it: "1.1"'
    assert (second.code, where(second)) == ("E0111", (3, 13))
    assert "`automation` must be an integer" in second.message


def test_e0111_missing_required_key() -> None:
    _, diags = parse("flow: f\nvars:\n  n: {type: int}\n")
    d = only(diags, "E0111")
    assert d.message == "missing required key `value` in `n`"
    assert where(d) == (3, 3)


def test_e0111_missing_flow() -> None:
    _, diags = parse("steps: []\n")
    d = only(diags, "E0111")
    assert "missing required key `flow`" in d.message and where(d) == (1, 1)


def test_e0111_duplicate_key() -> None:
    _, diags = parse(step_yaml("step: a\nshell: x\nshell: y\n"))
    d = only(diags, "E0111")
    assert d.message == "duplicate key `shell`" and where(d) == (5, 5)
    assert d.hint == "`shell` is already set at line 4"


def test_e0111_invalid_names() -> None:
    _, diags = parse("flow: 1f\nparams: {'bad name': int}\n")
    assert [(d.code, where(d)) for d in diags] == [("E0111", (1, 7)), ("E0111", (2, 10))]
    assert diags[0].message == "`1f` is not a valid name"
    assert diags[1].message == "`bad name` is not a valid name"


def test_e0111_not_a_mapping() -> None:
    module, diags = parse("- a\n- b\n")
    d = only(diags, "E0111")
    assert module is None and where(d) == (1, 1)


def test_e0111_set_needs_value() -> None:
    _, diags = parse(step_yaml("step: a\nset: n\n"))
    d = only(diags, "E0111")
    assert d.message == "`set` needs `value` in step `a`" and where(d) == (4, 5)


def test_e0111_enum_with_suggestion() -> None:
    _, diags = parse("flow: f\nparallelism: concurent\n")
    d = only(diags, "E0111")
    assert where(d) == (2, 14) and d.hint == "did you mean `concurrent`?"


def test_e0112_no_action() -> None:
    _, diags = parse(step_yaml("step: a\ntimeout: 1m\n"))
    d = only(diags, "E0112")
    assert d.message == "step `a` has no action" and where(d) == (3, 5)


def test_e0112_several_actions() -> None:
    _, diags = parse(step_yaml("step: a\nshell: x\ncall: g\n"))
    d = only(diags, "E0112")
    assert d.message == "step `a` has several actions: `shell` and `call`"
    assert where(d) == (5, 5)


def test_e0112_step_and_group() -> None:
    _, diags = parse(step_yaml("step: a\nphase: b\nsteps: []\n"))
    d = only(diags, "E0112")
    assert where(d) == (4, 5) and "both a `step` and a `phase`" in d.message


def test_e0113_recursive_alias() -> None:
    module, diags = parse("flow: f\nsteps: &s [*s]\n")
    d = only(diags, "E0113")
    assert module is None and d.span.line == 2


def test_e0113_alias_bomb() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 7)]
    module, diags = parse("\n".join(lines) + "\n")
    assert module is None and only(diags, "E0113")


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 3000])
def test_e0113_deep_nesting(depth: int) -> None:
    module, diags = parse("flow: " + "[" * depth + "]" * depth + "\n")
    assert module is None and only(diags, "E0113")


def test_e0114_duration_written_as_int() -> None:
    _, diags = parse(step_yaml("step: a\nshell: x\ntimeout: 10\n"))
    d = only(diags, "E0114")
    assert where(d) == (5, 14)
    assert d.hint is not None and "`10s`" in d.hint


def test_e0114_bad_durations() -> None:
    _, diags = parse(
        "flow: f\nquota: {cpu: 5x, wall: 99999999999999999999d}\n"
        "steps: [{step: a, shell: x, retry: {times: 1, backoff: 1.5s}}]\n")
    assert [(d.code, where(d)) for d in diags] == [
        ("E0114", (2, 14)), ("E0114", (2, 24)), ("E0114", (3, 56))]


@pytest.mark.parametrize("text", ["", "# nothing here\n", "---\n", "--- ~\n", "\n  \n"])
def test_an_empty_document_is_an_empty_module(text: str) -> None:
    # E0115 (no flow) is the loader's, the same rule as for an empty `.flow` file
    module, diags = parse(text)
    assert diags == [] and module is not None
    assert module.flows == () and module.imports == ()


def test_all_errors_in_source_order() -> None:
    _, diags = parse(
        "flow: f\n"
        "automation: x\n"
        "steps:\n"
        "  - step: a\n"
        "    shel: x\n"
        "  - {step: b, shell: x, timeout: 3}\n"
        "vars: {n: {type: int}}\n"
    )
    positions = [where(d) for d in diags]
    assert positions == sorted(positions)
    assert [d.code for d in diags] == ["E0111", "E0112", "E0111", "E0114", "E0111"]


def test_every_code_is_registered() -> None:
    assert set(CODES) == {"E0110", "E0111", "E0112", "E0113", "E0114", "E0117"}


# --------------------------------------------------------------------------- never raises


@pytest.mark.parametrize("text", [
    "", "~", "null", "42", "'str'", "[]", "{}", "flow:", "flow: [a]", "flow: {a: b}",
    "flows: 3", "flows: [3, null, {flow: a}]", "? [a, b]\n: c\n", "!!binary aGVsbG8=",
    "flow: !custom f", "flow: f\nsteps: [[], 3, null, {step: [x]}]",
    "flow: f\nsteps: [{step: s, shell: {a: b}}]", "flow: f\nparams: 3\noutputs: [a]",
    "flow: f\n<<: 3", "flow: f\n<<: [*undefined]", "a: &x 1\nb: &x 2",
    "flow: f\n---\nflow: g\n", "\ufeffflow: f\n", "flow: f\r\nsteps: []\r\n",
    "flow: f\nsteps: [{step: s, shell: '{'}]", "flow: f\nsteps: [{step: s, with: {'': 1}, "
    "python: x}]", "flow: f\nvars: {n: {type: '', value: ''}}", "flow: !!int abc",
    "flow: f\nsteps: [{step: s, call: g, with: {x: [1, {y: '{'}]}}]",
    "flow: f\nquota: {tokens: 99999999999999999999999}",
])
def test_odd_inputs_never_raise(text: str) -> None:
    module, diags = parse(text)
    assert module is None or isinstance(module, ast.Module)
    assert all(isinstance(d, Diagnostic) for d in diags)


# --------------------------------------------------------------------------- the schema


def test_schema_is_valid_and_accepts_the_example() -> None:
    import jsonschema
    import yaml

    jsonschema.Draft202012Validator.check_schema(schema())
    data = yaml.safe_load((EXAMPLES / "feature.yaml").read_text(encoding="utf-8"))
    assert list(jsonschema.Draft202012Validator(schema()).iter_errors(data)) == []
    assert json.loads(schema_text()) == schema()
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


# --------------------------------------------------------------------------- multi-line scalars


@pytest.mark.parametrize(("text", "line", "column"), [
    ("    shell: |\n      echo one\n\n        echo {ctx.depth}\n", 7, 15),
    ("    shell: >-\n      echo one\n      echo {ctx.depth}\n", 6, 13),
    ("    shell: echo one\n      echo {ctx.depth}\n", 5, 13),
    ('    shell: "echo one\n      echo {ctx.depth}"\n', 5, 13),
])
def test_spans_inside_multi_line_scalars(text: str, line: int, column: int) -> None:
    source = "flow: f\nsteps:\n  - step: s\n" + text
    (step,) = steps_of(one_flow(source))
    assert isinstance(step.action, ast.ShellAction)
    command = step.action.command
    assert isinstance(command, ast.Template)
    hole = next(p for p in command.parts if not isinstance(p, str))
    assert (hole.span.line, hole.span.column) == (line, column)
    assert source[hole.span.start:hole.span.end] == "ctx.depth"


def test_error_inside_block_scalar_points_at_its_line() -> None:
    source = "flow: f\nsteps:\n  - step: s\n    shell: |\n      echo one\n      echo {a b}\n"
    _, diags = parse(source)
    assert diags and diags[0].span.line == 6
    # the hole is not an expression (E0109, at its brace); the note shows where
    assert diags[0].code == "E0109"
    assert source[diags[0].span.start:diags[0].span.end] == "{"
    note = diags[0].related[0].span
    assert (note.line, source[note.start:note.end]) == (6, "b")


# --------------------------------------------------------------------------- a richer twin

RICH_FLOW = """
import bugfix, other from "std"
import lint from "./lib.flow"

flow big(a: int = -1, b: duration = 10m, c: list[int] = [1, 2], d: str?) -> (x: bool, y: int) {
  version "2"
  parallelism "concurrent"
  quota cpu 1h, steps 3
  var n: int = 0
  step s1: shell "echo {a}" {
    timeout 30s
    retry 1
    risk 10
    continue_on_error
    prompt "hi"
    cwd "/tmp/{a}"
    env { HOME: "/x", N: n }
    with { k: -3, l: [1, "z"], m: {q: true}, f: -0.5 }
    out cnt: int = len(stdout)
  }
  step s2 after s1 when s1.ok: python "pkg.mod:fn"
  phase p {
    step s3: agent "coder" { prompt "do {a}" }
    parallel q max 2 {
      step s4: approve "ok?"
      step s5: fail "no"
    }
  }
  repeat r after p when a > 0 max 3 until s6.ok {
    step s6: set n = n + 1
  }
  step s7: call bugfix(issue: "x {a}", max_attempts: a)
  output x = s1.ok ?? false
  output y = n
}
"""

RICH_YAML = """
imports:
  - {from: std, names: [bugfix, other]}
  - {from: ./lib.flow, names: lint}
flow: big
params:
  a: {type: int, default: -1}
  b: {type: duration, default: 10m}
  c: {type: "list[int]", default: [1, 2]}
  d: str?
outputs: {x: bool, y: int}
version: "2"
parallelism: concurrent
quota: {cpu: 1h, steps: 3}
vars:
  n: {type: int, value: 0}
steps:
  - step: s1
    shell: "echo {a}"
    timeout: 30s
    retry: 1
    risk: 10
    continue_on_error: true
    prompt: hi
    cwd: "/tmp/{a}"
    env: {HOME: /x, N: "{n}"}
    with: {k: -3, l: [1, z], m: {q: true}, f: -0.5}
    out: {cnt: {type: int, value: len(stdout)}}
  - {step: s2, after: s1, when: s1.ok, python: "pkg.mod:fn"}
  - phase: p
    steps:
      - {step: s3, agent: coder, prompt: "do {a}"}
      - parallel: q
        max: 2
        steps:
          - {step: s4, approve: "ok?"}
          - {step: s5, fail: "no"}
  - repeat: r
    after: [p]
    when: a > 0
    max: 3
    until: s6.ok
    steps:
      - {step: s6, set: n, value: n + 1}
  - step: s7
    call: bugfix
    with: {issue: "x {a}", max_attempts: "{a}"}
output:
  x: s1.ok ?? false
  y: n
"""


def test_rich_twin_gives_the_same_ast() -> None:
    from chatflow.dsl.parser import parse_flow

    from_flow, flow_diags = parse_flow(RICH_FLOW, "big.flow")
    from_yaml, yaml_diags = parse_yaml(RICH_YAML, "big.yaml")
    assert flow_diags == [] and yaml_diags == []
    assert from_flow is not None and from_yaml is not None
    a, b = strip_spans(from_flow), strip_spans(from_yaml)
    assert a.imports == b.imports
    fa, fb = a.flows[0], b.flows[0]
    assert fa.params == fb.params
    assert fa.outputs == fb.outputs
    for x, y in zip(fa.items, fb.items, strict=True):
        assert x == y
