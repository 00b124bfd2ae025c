"""Lowering of hand-built ASTs (independent of the parser and loader).

A tiny stand-in for the loader/checker contracts (docs/internals.md), with
the real graph and symbol table, feeds `lower` directly, so every expression
shape and node kind is pinned here even when the front-ends change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from chatflow.compiler.graph import FlowGraph, build_graph
from chatflow.compiler.ir import load_ir
from chatflow.compiler.lower import LoweringError, lower
from chatflow.compiler.symbols import FlowSymbols, Signature, build_symbols, signature_of
from chatflow.diagnostics import Span
from chatflow.dsl import ast
from cost import calls

SP = Span("t.flow", 1, 1, 1, 2)


def sp(line: int) -> Span:
    return Span("t.flow", line, 3, line, 20)


def I(name: str) -> ast.Ident:  # noqa: E743 - short builder name
    return ast.Ident(name, SP)


def T(name: str, *args: ast.TypeRef, optional: bool = False) -> ast.TypeRef:
    return ast.TypeRef(name, args, optional, SP)


def lit(v: str | int | float | bool | None) -> ast.Literal:
    return ast.Literal(v, SP)


def name(n: str) -> ast.Name:
    return ast.Name(n, SP)


def attr(base: ast.Expr, a: str) -> ast.Attribute:
    return ast.Attribute(base, a, SP, SP)


def binop(op: str, left: ast.Expr, right: ast.Expr) -> ast.Binary:
    return ast.Binary(op, left, right, SP)


def tmpl(*parts: str | ast.Expr) -> ast.Template:
    return ast.Template(parts, SP)


def step(n: str, action: ast.Action, *options: ast.StepOption, after: tuple[str, ...] | None = None,
         when: ast.Expr | None = None, line: int = 1) -> ast.Step:
    return ast.Step(I(n), None if after is None else tuple(I(a) for a in after), when, action,
                    options, sp(line))


def group(kind: str, n: str, *items: ast.Item, after: tuple[str, ...] | None = None,
          when: ast.Expr | None = None, max: ast.Expr | None = None,
          until: ast.Expr | None = None) -> ast.Group:
    return ast.Group(kind, I(n), None if after is None else tuple(I(a) for a in after), when,
                     max, until, items, SP)


def shell(cmd: str | ast.Template) -> ast.ShellAction:
    return ast.ShellAction(lit(cmd) if isinstance(cmd, str) else cmd, SP)


def opt(n: str, value: ast.Expr | None = None) -> ast.Option:
    return ast.Option(I(n), value, SP)


def flow(n: str, *items: ast.Item, params: tuple[ast.Param, ...] = (),
         outputs: tuple[ast.OutputDecl, ...] = ()) -> ast.Flow:
    return ast.Flow(I(n), params, outputs, items, SP)


# ---------------------------------------------------------------- contract stand-ins


@dataclass
class Unit:
    key: str
    module: ast.Module
    flow: ast.Flow
    callables: dict[str, str] = field(default_factory=dict)


@dataclass
class Program:
    root: str
    units: dict[str, Unit]
    root_flows: list[str]
    sources: dict[str, str] = field(default_factory=dict)


@dataclass
class Checked:
    program: Program
    graphs: dict[str, FlowGraph]
    symbols: dict[str, FlowSymbols]


def program(*units: tuple[str, str, ast.Flow, dict[str, str]], texts: bool = True) -> Checked:
    us: dict[str, Unit] = {}
    sources: dict[str, str] = {}
    for key, path, f, callables in units:
        mod = ast.Module(path, (), (f,), SP)
        us[key] = Unit(key, mod, f, callables)
        if texts:
            sources[path] = f"source of {path}\n"
    graphs: dict[str, FlowGraph] = {}
    symbols: dict[str, FlowSymbols] = {}
    for key, unit in us.items():
        graphs[key], diags = build_graph(unit.flow)
        assert not diags, diags

        def callee(n: str, unit: Unit = unit) -> Signature | None:
            k = unit.callables.get(n)
            return None if k is None else signature_of(k, us[k].flow)[0]

        symbols[key], diags = build_symbols(unit.flow, callee)
        assert not diags, diags
    return Checked(Program(units[0][1], us, [units[0][0]], sources), graphs, symbols)


def lower_one(f: ast.Flow, source_info: bool = False) -> dict[str, Any]:
    doc = lower(program((f.name.name, "t.flow", f, {})), f.name.name,
                source_info=source_info)
    load_ir(doc)  # every IR these tests build is schema-valid
    return doc


def lower_expr(e: ast.Expr, *, params: tuple[str, ...] = ("p",), vars_: tuple[str, ...] = ("v",),
               steps: tuple[str, ...] = ("s",)) -> Any:
    items: list[ast.Item] = [ast.Var(I(v), T("int"), lit(0), SP) for v in vars_]
    items += [step(s, shell("true")) for s in steps]
    items.append(ast.OutputItem(I("o"), e, SP))
    f = flow("f", *items, params=tuple(ast.Param(I(p), T("json"), None, SP) for p in params),
             outputs=(ast.OutputDecl(I("o"), T("json"), SP),))
    return lower_one(f)["flows"]["f"]["outputs"][0]["value"]


# ---------------------------------------------------------------- expressions


@pytest.mark.parametrize(("expr", "expected"), [
    (lit("a"), {"lit": "a"}),
    (lit(3), {"lit": 3}),
    (lit(2.5), {"lit": 2.5}),
    (lit(True), {"lit": True}),
    (lit(None), {"lit": None}),
    (ast.DurationLit(600_000, "10m", SP), {"dur": 600_000}),
    (name("p"), {"param": "p"}),
    (name("v"), {"var": "v"}),
    (attr(name("ctx"), "attempt"), {"ctx": "attempt"}),
    (attr(name("s"), "ok"), {"step": "s", "field": "ok"}),
    (attr(name("p"), "k"), {"op": "attr", "args": [{"param": "p"}], "name": "k"}),
    (attr(attr(name("s"), "value"), "k"),
     {"op": "attr", "args": [{"step": "s", "field": "value"}], "name": "k"}),
    (ast.Index(name("p"), lit(0), SP), {"op": "index", "args": [{"param": "p"}, {"lit": 0}]}),
    (ast.Call(I("len"), (name("p"),), SP), {"op": "call", "fn": "len", "args": [{"param": "p"}]}),
    (ast.Unary("not", name("p"), SP), {"op": "not", "args": [{"param": "p"}]}),
    (ast.Unary("-", name("v"), SP), {"op": "neg", "args": [{"var": "v"}]}),
    (ast.Unary("-", lit(3), SP), {"lit": -3}),
    (ast.Unary("-", lit(0.5), SP), {"lit": -0.5}),
    (ast.Unary("-", ast.DurationLit(5, "5ms", SP), SP), {"dur": -5}),
    (binop("??", name("p"), lit(0)), {"op": "??", "args": [{"param": "p"}, {"lit": 0}]}),
    (ast.ListExpr((lit(1), name("v")), SP), {"op": "list", "args": [{"lit": 1}, {"var": "v"}]}),
    (ast.MapExpr((ast.MapEntry(I("b"), lit(1), SP), ast.MapEntry(I("a"), name("p"), SP)), SP),
     {"op": "map", "keys": ["b", "a"], "args": [{"lit": 1}, {"param": "p"}]}),
    (tmpl("x=", name("p"), ""), {"op": "fmt", "args": [{"lit": "x="}, {"param": "p"}]}),
    (ast.Cond(attr(name("s"), "ok"), lit(1), ast.Cond(name("p"), name("v"), lit(2), SP), SP),
     {"op": "if", "args": [{"step": "s", "field": "ok"}, {"lit": 1},
                           {"op": "if", "args": [{"param": "p"}, {"var": "v"}, {"lit": 2}]}]}),
    (ast.Call(I("split"), (name("p"), lit(",")), SP),
     {"op": "call", "fn": "split", "args": [{"param": "p"}, {"lit": ","}]}),
])
def test_expression_shapes(expr: ast.Expr, expected: Any) -> None:
    assert lower_expr(expr) == expected


@pytest.mark.parametrize("op", ["??", "or", "and", "==", "!=", "<", "<=", ">", ">=", "in",
                                "+", "-", "*", "/", "%"])
def test_binary_operators(op: str) -> None:
    expected = {"op": op, "args": [{"var": "v"}, {"lit": 1}]}
    assert lower_expr(binop(op, name("v"), lit(1))) == expected


@pytest.mark.parametrize("field_", ["instance_id", "feature_id", "automation", "attempt", "depth"])
def test_ctx_fields(field_: str) -> None:
    assert lower_expr(attr(name("ctx"), field_)) == {"ctx": field_}


def test_nested_expression() -> None:
    e = binop("and", attr(name("s"), "ok"),
              binop(">=", attr(name("s"), "exit_code"), ast.Unary("-", lit(1), SP)))
    assert lower_expr(e) == {"op": "and", "args": [
        {"step": "s", "field": "ok"},
        {"op": ">=", "args": [{"step": "s", "field": "exit_code"}, {"lit": -1}]}]}


def test_unresolved_name_is_a_lowering_error() -> None:
    with pytest.raises(LoweringError, match="nope"):
        lower_expr(name("nope"))


# ---------------------------------------------------------------- flows and nodes


def feature_flow() -> ast.Flow:
    """The docs/language.md §1 example, built by hand."""
    fid = name("feature_id")
    return flow(
        "feature",
        ast.Setting(I("version"), lit("1.1"), SP),
        ast.Setting(I("automation"), lit(60), SP),
        ast.Quota((ast.QuotaEntry(I("tokens"), lit(200_000), SP),
                   ast.QuotaEntry(I("cpu"), ast.DurationLit(600_000, "10m", SP), SP),
                   ast.QuotaEntry(I("wall"), ast.DurationLit(7_200_000, "2h", SP), SP),
                   ast.QuotaEntry(I("steps"), lit(500), SP)), SP),
        ast.Setting(I("max_depth"), lit(3), SP),
        ast.Var(I("attempts"), T("int"), lit(0), SP),
        step("design", ast.AgentAction(lit("chatcoder"), SP),
             opt("prompt", tmpl("Write a design for ", fid)), opt("risk", lit(20)), line=12),
        step("build", shell(tmpl("make build FEATURE=", fid)),
             opt("timeout", ast.DurationLit(600_000, "10m", SP)),
             ast.RetryOption(lit(2), ast.DurationLit(5000, "5s", SP), SP), line=17),
        group("parallel", "checks",
              step("unit", shell("pytest -q"),
                   ast.OutField(I("coverage"), T("float"),
                                binop("??", attr(ast.Call(I("json"), (name("stdout"),), SP),
                                                 "coverage"), lit(0.0)), SP)),
              step("lint", shell("ruff check ."))),
        step("review", ast.ApproveAction(tmpl("Merge ", fid, "?"), SP),
             when=binop("and", attr(name("unit"), "ok"),
                        binop(">=", attr(name("unit"), "coverage"), name("coverage_min")))),
        step("fix", ast.CallAction(I("bugfix"), (ast.Argument(I("issue"), tmpl("failing ", fid),
                                                               SP),), SP),
             after=("checks",), when=ast.Unary("not", attr(name("unit"), "ok"), SP)),
        ast.OutputItem(I("merged"), binop("??", attr(name("review"), "approved"), lit(False)), SP),
        params=(ast.Param(I("feature_id"), T("str"), None, SP),
                ast.Param(I("spec"), T("str"), lit(""), SP),
                ast.Param(I("coverage_min"), T("float"), lit(0.8), SP)),
        outputs=(ast.OutputDecl(I("merged"), T("bool"), SP),),
    )


def bugfix_flow() -> ast.Flow:
    return flow(
        "bugfix",
        group("repeat", "loop",
              step("attempt", ast.AgentAction(lit("fixer"), SP), opt("prompt", name("issue"))),
              step("test", shell("pytest")),
              max=lit(3),
              until=attr(name("test"), "ok")),
        ast.OutputItem(I("fixed"), attr(name("loop"), "ok"), SP),
        params=(ast.Param(I("issue"), T("str"), None, SP),
                ast.Param(I("max_attempts"), T("int"), lit(3), SP)),
        outputs=(ast.OutputDecl(I("fixed"), T("bool"), SP),),
    )


def feature_program(texts: bool = True) -> Checked:
    return program(("feature", "examples/feature.flow", feature_flow(), {"bugfix": "std:bugfix"}),
                   ("std:bugfix", "/site-packages/chatflow/stdlib/bugfix.flow", bugfix_flow(), {}),
                   texts=texts)


def test_feature_flow_document() -> None:
    doc = lower(feature_program(), "feature", source_info=False)
    load_ir(doc)
    assert doc["ir_version"] == 2 and doc["entry"] == "feature"
    assert sorted(doc["flows"]) == ["feature", "std:bugfix"]
    f = doc["flows"]["feature"]
    assert f["settings"] == {"version": "1.1", "automation": 60, "max_depth": 3, "quota": {
        "tokens": 200000, "cpu_ms": 600000, "wall_ms": 7200000, "steps": 500}}
    assert f["params"] == [{"name": "feature_id", "type": "str"},
                           {"name": "spec", "type": "str", "default": {"lit": ""}},
                           {"name": "coverage_min", "type": "float", "default": {"lit": 0.8}}]
    assert f["vars"] == [{"name": "attempts", "type": "int", "value": {"lit": 0}}]
    assert f["outputs"] == [{"name": "merged", "type": "bool", "value": {
        "op": "??", "args": [{"step": "review", "field": "approved"}, {"lit": False}]}}]
    nodes = {n["id"]: n for n in f["nodes"]}
    assert [n["id"] for n in f["nodes"]] == ["design", "build", "checks", "unit", "lint",
                                            "review", "fix"]
    assert nodes["design"]["deps"] == [] and nodes["build"]["deps"] == ["design"]
    assert nodes["checks"] == {
        "id": "checks", "kind": "parallel", "parent": None, "deps": ["build"], "when": None,
        "optional": False, "fields": {"ok": "bool"}, "members": ["unit", "lint"], "max": None}
    assert nodes["unit"]["deps"] == [] and nodes["unit"]["parent"] == "checks"
    assert nodes["unit"]["fields"] == {"ok": "bool", "exit_code": "int", "stdout": "str",
                                       "stderr": "str", "coverage": "float"}
    assert nodes["unit"]["options"] == {"out": [{"name": "coverage", "type": "float", "value": {
        "op": "??", "args": [{"op": "attr", "name": "coverage", "args": [
            {"op": "call", "fn": "json", "args": [{"self": "stdout"}]}]}, {"lit": 0.0}]}}]}
    assert nodes["review"]["deps"] == ["checks"] and nodes["review"]["optional"] is True
    assert nodes["review"]["action"] == {"type": "approve", "message": {"op": "fmt", "args": [
        {"lit": "Merge "}, {"param": "feature_id"}, {"lit": "?"}]}}
    assert nodes["review"]["fields"] == {"approved": "bool", "by": "str", "comment": "str"}
    assert nodes["fix"]["deps"] == ["checks"]
    assert nodes["fix"]["action"] == {"type": "call", "flow": "std:bugfix", "args": {
        "issue": {"op": "fmt", "args": [{"lit": "failing "}, {"param": "feature_id"}]}}}
    assert nodes["fix"]["fields"] == {"ok": "bool", "fixed": "bool"}
    assert nodes["design"]["action"] == {"type": "agent", "agent": "chatcoder"}
    assert nodes["design"]["options"] == {"risk": 20, "prompt": {"op": "fmt", "args": [
        {"lit": "Write a design for "}, {"param": "feature_id"}]}}
    assert nodes["build"]["options"] == {"timeout_ms": 600000,
                                         "retry": {"times": 2, "backoff_ms": 5000}}
    assert nodes["lint"]["action"] == {"type": "shell", "command": "ruff check .",
                                       "bindings": {}}
    assert nodes["build"]["action"] == {
        "type": "shell", "command": 'make build FEATURE="${cf_feature_id}"',
        "bindings": {"cf_feature_id": {"param": "feature_id"}}}
    assert all("span" not in n for n in f["nodes"]) and "source" not in f


def test_repeat_node_and_bundled_callee() -> None:
    doc = lower(feature_program(), "feature", source_info=False)
    b = doc["flows"]["std:bugfix"]
    loop = b["nodes"][0]
    assert loop == {"id": "loop", "kind": "repeat", "parent": None, "deps": [], "when": None,
                    "optional": False, "fields": {"ok": "bool", "iterations": "int"},
                    "members": ["attempt", "test"], "max": 3,
                    "until": {"step": "test", "field": "ok"}}
    assert b["nodes"][2]["deps"] == ["attempt"]
    # a bare (non-template) expression in a template position becomes one fmt part
    assert b["nodes"][1]["options"]["prompt"] == {"op": "fmt", "args": [{"param": "issue"}]}


def test_source_info() -> None:
    doc = lower(feature_program(), "feature")
    load_ir(doc)
    src = doc["flows"]["feature"]["source"]
    assert src["file"] == "examples/feature.flow"
    import hashlib
    assert src["sha256"] == hashlib.sha256(b"source of examples/feature.flow\n").hexdigest()
    assert doc["flows"]["std:bugfix"]["source"]["file"] == "<std>/bugfix.flow"
    assert doc["flows"]["feature"]["nodes"][0]["span"] == {
        "line": 12, "column": 3, "end_line": 12, "end_column": 20}


def test_only_entry_and_its_callees_are_bundled() -> None:
    unused = flow("unused", step("a", shell("true")))
    checked = program(("main", "m.flow", flow("main", step("a", shell("true"))), {}),
                      ("unused", "m.flow", unused, {}))
    doc = lower(checked, "main", source_info=False)
    assert list(doc["flows"]) == ["main"]


def test_recursion_and_mutual_calls() -> None:
    ping = flow("ping", step("again", ast.CallAction(I("pong"), (), SP)))
    pong = flow("pong", step("back", ast.CallAction(I("ping"), (), SP)),
                step("me", ast.CallAction(I("pong"), (), SP)))
    checked = program(("ping", "p.flow", ping, {"pong": "lib/q.flow:pong"}),
                      ("lib/q.flow:pong", "lib/q.flow", pong,
                       {"ping": "p.flow:ping", "pong": "lib/q.flow:pong"}),
                      ("p.flow:ping", "p.flow", ping, {"pong": "lib/q.flow:pong"}))
    doc = lower(checked, "ping", source_info=False)
    load_ir(doc)
    assert sorted(doc["flows"]) == ["lib/q.flow:pong", "p.flow:ping", "ping"]
    assert doc["flows"]["lib/q.flow:pong"]["nodes"][1]["action"]["flow"] == "lib/q.flow:pong"


def test_phase_deps_and_group_when_make_members_optional() -> None:
    f = flow("f",
             step("a", shell("a")),
             group("phase", "ph",
                   step("b", shell("b")),
                   group("repeat", "r", step("c", shell("c")), step("d", shell("d"), after=("a",)),
                         max=lit(2), until=attr(name("d"), "ok")),
                   when=attr(name("a"), "ok")),
             step("e", ast.SetAction(I("v"), binop("+", name("v"), lit(1)), SP)),
             step("g", ast.FailAction(lit("boom"), SP), opt("continue_on_error"),
                  opt("cwd", lit("sub")),
                  opt("with", ast.MapExpr((ast.MapEntry(I("x"), lit(1), SP),), SP)),
                  opt("env", ast.MapExpr((ast.MapEntry(I("K"), name("v"), SP),), SP)),
                  after=("ph", "a")),
             step("h", ast.PythonAction(lit("pkg.mod:fn"), SP), ast.RetryOption(lit(1), None, SP)),
             ast.Var(I("v"), T("list", T("int"), optional=True), lit(None), SP))
    nodes = {n["id"]: n for n in lower_one(f)["flows"]["f"]["nodes"]}
    assert [nodes[k]["deps"] for k in "abcdeg"] == [[], [], [], ["a"], ["ph"], ["ph", "a"]]
    assert nodes["ph"]["deps"] == ["a"] and nodes["r"]["deps"] == ["b"]
    assert [nodes[k]["parent"] for k in "bcdr"] == ["ph", "r", "r", "ph"]
    assert [nodes[k]["optional"] for k in "abcdreg"] == [False, True, True, True, True, False,
                                                         False]
    assert "max" not in nodes["ph"] and "until" not in nodes["ph"]
    assert nodes["ph"]["when"] == {"step": "a", "field": "ok"}
    assert nodes["e"]["action"] == {"type": "set", "var": "v", "value": {
        "op": "+", "args": [{"var": "v"}, {"lit": 1}]}}
    assert nodes["e"]["fields"] == {} and nodes["g"]["fields"] == {}
    assert nodes["g"]["action"] == {"type": "fail", "message": {"op": "fmt",
                                                                "args": [{"lit": "boom"}]}}
    assert nodes["g"]["options"] == {"continue_on_error": True,
                                     "cwd": {"op": "fmt", "args": [{"lit": "sub"}]},
                                     "with": {"x": {"lit": 1}}, "env": {"K": {"var": "v"}}}
    assert nodes["h"]["action"] == {"type": "python", "target": "pkg.mod:fn"}
    assert nodes["h"]["options"] == {"retry": {"times": 1, "backoff_ms": 0}}
    assert nodes["h"]["fields"] == {"ok": "bool", "value": "json"}


def test_var_type_normalised() -> None:
    f = flow("f", ast.Var(I("m"), T("map", T("list", T("int")), optional=True), lit(None), SP),
             ast.Setting(I("parallelism"), lit("concurrent"), SP),
             ast.Setting(I("description"), lit("d"), SP))
    out = lower_one(f)["flows"]["f"]
    assert out["vars"][0]["type"] == "map[list[int]]?"
    assert out["settings"] == {"parallelism": "concurrent", "description": "d"}
    assert out["nodes"] == []


def test_out_fields_shadow_flow_names_and_read_earlier_outs() -> None:
    f = flow("f",
             step("s", shell("x"),
                  ast.OutField(I("n"), T("int"), ast.Call(I("len"), (name("stdout"),), SP), SP),
                  ast.OutField(I("m"), T("int"), binop("+", name("n"), name("p")), SP)),
             params=(ast.Param(I("p"), T("int"), None, SP),))
    outs = lower_one(f)["flows"]["f"]["nodes"][0]["options"]["out"]
    assert outs[1]["value"] == {"op": "+", "args": [{"self": "n"}, {"param": "p"}]}



def test_lowering_is_linear() -> None:
    def cost(n: int) -> int:
        items: list[ast.Item] = [
            step(f"s{i}", shell(tmpl("echo ", name("p"))),
                 ast.OutField(I("n"), T("int"), ast.Call(I("len"), (name("stdout"),), SP), SP),
                 after=(f"s{i - 1}",) if i else None,
                 when=attr(name(f"s{i - 1}"), "ok") if i else None)
            for i in range(n)]
        f = flow("big", *items, params=(ast.Param(I("p"), T("str"), None, SP),))
        checked = program(("big", "big.flow", f, {}))
        docs: list[dict[str, Any]] = []
        spent = calls(lambda: docs.append(lower(checked, "big")))
        assert len(docs[0]["flows"]["big"]["nodes"]) == n
        return spent

    # 5x the steps, at most 6x the function calls (time is bench/compile.py's job)
    small, large = cost(2_000), cost(10_000)
    assert large < 6 * small, (small, large)
