"""The IR shape check (`compiler.ir_check`) against the published JSON Schema
(`chatflow schema ir`): both accept every golden IR and reject the same
malformed documents; the check is linear in the document's size (counted,
not timed) and safe at any depth; its tables agree with the checker and the
evaluator."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatflow.compiler import ir_check
from chatflow.compiler.ir import ir_schema, load_ir
from chatflow.compiler.ir_check import MAX_EXPR_DEPTH, IRProblem, check_document
from chatflow.deep import room
from chatflow.diagnostics import ChatflowError

sys.path.insert(0, str(Path(__file__).parent))
from test_ir import valid_ir

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_IR = sorted((ROOT / "tests" / "golden" / "ir").glob("*.ir.json"))


@cache
def _schema_validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(ir_schema())


def schema_accepts(doc: Any) -> bool:
    return not any(True for _ in _schema_validator().iter_errors(doc))


def shape_accepts(doc: dict[str, Any]) -> bool:
    try:
        check_document(doc)
    except IRProblem:
        return False
    return True


def main_flow(doc: dict[str, Any]) -> dict[str, Any]:
    flow: dict[str, Any] = doc["flows"]["main"]
    return flow


def node(doc: dict[str, Any], i: int) -> dict[str, Any]:
    n: dict[str, Any] = main_flow(doc)["nodes"][i]
    return n


def output_value(doc: dict[str, Any]) -> dict[str, Any]:
    v: dict[str, Any] = main_flow(doc)["outputs"][0]["value"]
    return v


def set_output(expr: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        main_flow(doc)["outputs"][0]["value"] = expr
    return mutate


@pytest.mark.parametrize("path", GOLDEN_IR, ids=lambda p: p.name)
def test_golden_ir_is_accepted_by_both(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert schema_accepts(doc)
    assert load_ir(doc) == doc


def test_the_test_ir_is_accepted_by_both() -> None:
    assert schema_accepts(valid_ir()) and shape_accepts(valid_ir())


PLUGIN_ACTION: dict[str, Any] = {
    "type": "http", "plugin": {"dist": "chatflow-http", "version": "0.1.0"},
    "target": {"op": "fmt", "args": [{"lit": "http://x"}]}, "options": {"body": {"lit": 1}}}


def test_a_plugin_action_is_accepted_by_both() -> None:
    doc = valid_ir()
    doc["ir_version"] = 3
    node(doc, 0).update(action=dict(PLUGIN_ACTION))
    assert schema_accepts(doc) and shape_accepts(doc)


# (mutation, the JSON path the shape check names)
MALFORMED: list[tuple[Callable[[dict[str, Any]], Any], str]] = [
    (lambda d: d.pop("flows"), "$"),
    (lambda d: d.update(flows={}), "$.flows"),
    (lambda d: d.update(extra=1), "$"),
    (lambda d: d.update(entry=""), "$.entry"),
    (lambda d: main_flow(d).update(name="not a name"), "$.flows.main.name"),
    (lambda d: main_flow(d)["settings"].update(parallelism="lots"),
     "$.flows.main.settings.parallelism"),
    (lambda d: main_flow(d)["settings"]["quota"].update(memory=1), "$.flows.main.settings.quota"),
    (lambda d: main_flow(d)["params"][0].update(default={"bogus": 1}),
     "$.flows.main.params[0].default"),
    (lambda d: main_flow(d)["vars"][0].pop("value"), "$.flows.main.vars[0]"),
    (lambda d: node(d, 0).update(span={"line": 0, "column": 1, "end_line": 1, "end_column": 1}),
     "$.flows.main.nodes[0].span.line"),
    (lambda d: node(d, 0).update(members=[]), "$.flows.main.nodes[0].members"),
    (lambda d: node(d, 0).pop("action"), "$.flows.main.nodes[0]"),
    (lambda d: node(d, 0).update(fields={"not-ident": "int"}), "$.flows.main.nodes[0].fields"),
    (lambda d: node(d, 0).update(fields={"ok": "boolean"}), "$.flows.main.nodes[0].fields.ok"),
    (lambda d: node(d, 0).update(deps=["a", "a"]), "$.flows.main.nodes[0].deps[1]"),
    (lambda d: node(d, 0).update(optional="no"), "$.flows.main.nodes[0].optional"),
    (lambda d: node(d, 0).update(parent=3), "$.flows.main.nodes[0].parent"),
    (lambda d: node(d, 1).update(until={"lit": True}), "$.flows.main.nodes[1].until"),
    (lambda d: node(d, 1).update(max=0), "$.flows.main.nodes[1].max"),
    (lambda d: node(d, 1).update(action={"type": "fail", "message": {"op": "fmt", "args": []}}),
     "$.flows.main.nodes[1].action"),
    (lambda d: node(d, 3).update(max=None), "$.flows.main.nodes[3].max"),
    (lambda d: node(d, 0)["options"].update(risk=101), "$.flows.main.nodes[0].options.risk"),
    (lambda d: node(d, 0)["options"].update(continue_on_error=False),
     "$.flows.main.nodes[0].options.continue_on_error"),
    (lambda d: node(d, 0)["options"]["retry"].pop("times"), "$.flows.main.nodes[0].options.retry"),
    (lambda d: node(d, 0)["options"].update(prompt={"lit": "x"}),
     "$.flows.main.nodes[0].options.prompt"),
    (lambda d: node(d, 0)["options"].update(env={"K": "v"}),
     "$.flows.main.nodes[0].options.env.K"),
    (lambda d: node(d, 0).update(action={"type": "shell"}), "$.flows.main.nodes[0].action"),
    # a plugin kind's action (version 3): `plugin` and `options` required, nothing else
    (lambda d: node(d, 0).update(action={**PLUGIN_ACTION, "plugin": {"dist": "x"}}),
     "$.flows.main.nodes[0].action.plugin"),
    (lambda d: node(d, 0).update(action={**PLUGIN_ACTION, "extra": 1}),
     "$.flows.main.nodes[0].action"),
    (lambda d: node(d, 0).update(action={**PLUGIN_ACTION, "target": {"lit": "x"}}),
     "$.flows.main.nodes[0].action.target"),
    (lambda d: node(d, 0).update(action={**PLUGIN_ACTION, "type": "not-a-name"}),
     "$.flows.main.nodes[0].action.type"),
    (lambda d: node(d, 0).update(action={**PLUGIN_ACTION, "options": {"a": {"bogus": 1}}}),
     "$.flows.main.nodes[0].action.options.a"),
    (lambda d: node(d, 0).update(action={"type": "sh", "command": {"op": "fmt", "args": []}}),
     "$.flows.main.nodes[0].action.type"),
    (lambda d: node(d, 0)["action"].update(message={"op": "fmt", "args": []}),
     "$.flows.main.nodes[0].action"),
    (lambda d: node(d, 0).update(action={"type": "python", "target": "no colon"}),
     "$.flows.main.nodes[0].action.target"),
    (lambda d: node(d, 0).update(action={"type": "agent", "agent": ""}),
     "$.flows.main.nodes[0].action.agent"),
    (lambda d: node(d, 0)["action"].update(command={"op": "fmt", "args": []}),
     "$.flows.main.nodes[0].action.command"),
    (lambda d: node(d, 0)["action"]["bindings"].update(cf_p={"lit": 1, "dur": 1}),
     "$.flows.main.nodes[0].action.bindings.cf_p"),
    (lambda d: node(d, 0)["action"]["bindings"].update(HOME={"lit": "x"}),
     "$.flows.main.nodes[0].action.bindings"),
    (lambda d: node(d, 0)["action"].pop("bindings"), "$.flows.main.nodes[0].action"),
    (lambda d: node(d, 0)["action"].update(integers=["cf_1", "cf_1"]),
     "$.flows.main.nodes[0].action.integers[1]"),
    (lambda d: node(d, 0)["options"].update(cwd={"op": "list", "args": []}),
     "$.flows.main.nodes[0].options.cwd"),
    (lambda d: node(d, 4)["action"].update(value={"op": "list"}),
     "$.flows.main.nodes[4].action.value"),
    (lambda d: node(d, 5)["action"]["args"].update(issue=[]),
     "$.flows.main.nodes[5].action.args.issue"),
    (set_output("x"), "$.flows.main.outputs[0].value"),
    (set_output({}), "$.flows.main.outputs[0].value"),
    (set_output({"field": "ok"}), "$.flows.main.outputs[0].value"),
    (set_output({"lit": [1]}), "$.flows.main.outputs[0].value.lit"),
    (set_output({"lit": {"a": 1}}), "$.flows.main.outputs[0].value.lit"),
    (set_output({"dur": 1.5}), "$.flows.main.outputs[0].value.dur"),
    (set_output({"param": "a-b"}), "$.flows.main.outputs[0].value.param"),
    (set_output({"ctx": "pid"}), "$.flows.main.outputs[0].value.ctx"),
    (set_output({"self": "x", "var": "y"}), "$.flows.main.outputs[0].value"),
    (set_output({"op": "xor", "args": []}), "$.flows.main.outputs[0].value.op"),
    (set_output({"op": 1, "args": []}), "$.flows.main.outputs[0].value.op"),
    (set_output({"op": "not"}), "$.flows.main.outputs[0].value"),
    (set_output({"op": "not", "args": {"lit": 1}}), "$.flows.main.outputs[0].value.args"),
    (set_output({"op": "not", "args": [{"lit": 1}, {"lit": 2}]}),
     "$.flows.main.outputs[0].value.args"),
    (set_output({"op": "==", "args": [{"lit": 1}]}), "$.flows.main.outputs[0].value.args"),
    (set_output({"op": "and", "args": [{"lit": True}]}), "$.flows.main.outputs[0].value.args"),
    (set_output({"op": "index", "args": [{"lit": 1}] * 3}), "$.flows.main.outputs[0].value.args"),
    (set_output({"op": "attr", "args": [{"lit": 1}]}), "$.flows.main.outputs[0].value"),
    (set_output({"op": "attr", "args": [{"lit": 1}], "name": "k", "fn": "len"}),
     "$.flows.main.outputs[0].value"),
    (set_output({"op": "call", "fn": "eval", "args": []}), "$.flows.main.outputs[0].value.fn"),
    (set_output({"op": "call", "args": []}), "$.flows.main.outputs[0].value"),
    (set_output({"op": "map", "keys": [1], "args": [{"lit": 1}]}),
     "$.flows.main.outputs[0].value.keys[0]"),
    (set_output({"op": "list", "args": [{"op": "neg", "args": [{"var": ""}]}]}),
     "$.flows.main.outputs[0].value.args[0].args[0].var"),
]


@pytest.mark.parametrize(("mutate", "path"), MALFORMED)
def test_malformed_ir_is_rejected_by_both_at_the_same_place(
        mutate: Callable[[dict[str, Any]], Any], path: str) -> None:
    doc = valid_ir()
    mutate(doc)
    assert not schema_accepts(doc)
    with pytest.raises(ChatflowError) as exc:
        load_ir(doc)
    assert exc.value.message.startswith(f"invalid IR at {path}: "), exc.value.message


def test_what_only_loading_checks() -> None:
    """Two rules the schema cannot state: a map display's keys and values
    pair up, and no expression is deeper than the evaluator's limit."""
    doc = valid_ir()
    set_output({"op": "map", "keys": ["a", "b"], "args": [{"lit": 1}]})(doc)
    assert schema_accepts(doc)
    with pytest.raises(ChatflowError, match=r"outputs\[0\]\.value: a map display has 2 keys "
                                            r"and 1 values"):
        load_ir(doc)


def not_chain(n: int) -> dict[str, Any]:
    """`not not ... true` with `n` operators, built without recursion."""
    e: dict[str, Any] = {"lit": True}
    for _ in range(n):
        e = {"op": "not", "args": [e]}
    return e


def test_depth_limit_is_the_evaluators_and_named_at_the_expression() -> None:
    from chatflow.runtime.evaluator import MAX_EXPR_DEPTH as EVAL_LIMIT
    from chatflow.runtime.evaluator import MapScope, evaluate

    assert EVAL_LIMIT == MAX_EXPR_DEPTH
    ok = valid_ir()
    set_output(not_chain(MAX_EXPR_DEPTH))(ok)
    load_ir(ok)
    with room():  # as the runtime's entry points give it
        assert evaluate(output_value(ok), MapScope()) is True  # what loads, evaluates
    for n in (MAX_EXPR_DEPTH + 1, 50_000):
        deep = valid_ir()
        set_output(not_chain(n))(deep)
        with pytest.raises(ChatflowError) as exc:
            load_ir(deep)
        assert exc.value.message == ("invalid IR at $.flows.main.outputs[0].value: expression "
                                     f"nested deeper than {MAX_EXPR_DEPTH} operators "
                                     "(the evaluator's limit)")
    # the same inside a template: `fmt` counts as one operator, as when rendering
    deep = valid_ir()
    node(deep, 0)["options"]["cwd"] = {"op": "fmt", "args": [not_chain(MAX_EXPR_DEPTH)]}
    with pytest.raises(ChatflowError, match=r"at \$\.flows\.main\.nodes\[0\]\.options\.cwd: "
                                            "expression nested deeper"):
        load_ir(deep)
    # and in a shell command's bindings
    deep = valid_ir()
    node(deep, 0)["action"]["bindings"]["cf_p"] = not_chain(MAX_EXPR_DEPTH + 1)
    with pytest.raises(ChatflowError, match=r"at \$\.flows\.main\.nodes\[0\]\.action\.bindings"
                                            r"\.cf_p: expression nested deeper"):
        load_ir(deep)


def test_text_nested_too_deeply_to_read_is_a_clear_error() -> None:
    text = '{"ir_version": 1, "entry": "x", "flows": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(ChatflowError, match="invalid IR: nested too deeply to read"):
        load_ir(text)


def test_non_string_keys_and_non_json_values_are_refused() -> None:
    doc = valid_ir()
    main_flow(doc)["settings"][1] = 2  # type: ignore[index]
    with pytest.raises(ChatflowError, match=r"at \$\.flows\.main\.settings: keys must be strings"):
        load_ir(doc)
    doc = valid_ir()
    set_output({"lit": (1, 2)})(doc)
    with pytest.raises(ChatflowError, match=r"value\.lit: expected a string, number, boolean or "
                                            r"null, got a value"):
        load_ir(doc)


# ------------------------------------------------------------------ linear work


def test_the_check_visits_each_value_once_whatever_the_shape() -> None:
    """Counted work, not time: each expression node costs one visit, for a
    500-operand run, a 199-deep left-nested chain and a 199-deep `not` nest
    alike, so the check is linear in the document's size."""
    base = valid_ir()
    set_output({"lit": True})(base)
    base_visits = check_document(base).visited
    shapes = {
        "run of 500": {"op": "and", "args": [{"param": "p"}] * 500},
        "flat list": {"op": "list", "args": [{"param": "p"}] * 500},
        "left-nested chain": _left_nested("and", 199),
        "not nest": not_chain(199),
        "list of lists": _lists(199),
    }
    for name, expr in shapes.items():
        doc = copy.deepcopy(base)
        set_output(expr)(doc)
        extra = check_document(doc).visited - base_visits
        assert extra == _count_nodes(expr) - 1, name


def _left_nested(op: str, n: int) -> dict[str, Any]:
    e: dict[str, Any] = {"param": "p"}
    for _ in range(n):
        e = {"op": op, "args": [e, {"param": "p"}]}
    return e


def _lists(n: int) -> dict[str, Any]:
    e: dict[str, Any] = {"op": "list", "args": []}
    for _ in range(n):
        e = {"op": "list", "args": [e, {"lit": 1}]}
    return e


def _count_nodes(expr: dict[str, Any]) -> int:
    count, todo = 0, [expr]
    while todo:
        e = todo.pop()
        count += 1
        todo.extend(e.get("args", ()))
    return count


# ------------------------------------------------------------------ agreement


def _leaf() -> st.SearchStrategy[Any]:
    ident = st.sampled_from(["a", "_b", "x1", "1x", "", "a-b"])
    return st.one_of(
        st.builds(lambda v: {"lit": v}, st.none() | st.booleans() | st.integers()
                  | st.floats(allow_nan=False) | st.text(max_size=3) | st.just([1])),
        st.builds(lambda v: {"dur": v}, st.integers() | st.just(1.5) | st.just("1s")),
        st.builds(lambda k, v: {k: v}, st.sampled_from(["param", "var", "self"]), ident),
        st.builds(lambda v: {"ctx": v}, st.sampled_from([*ir_check.CTX_NAMES, "pid"])),
        st.builds(lambda s, f: {"step": s, "field": f}, ident, ident),
        st.just({"step": "a"}),
        st.just({"lit": 1, "var": "a"}),
        st.just({}),
        st.just("x"),
        st.just(None),
    )


def _operation(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    @st.composite
    def build(draw: st.DrawFn) -> Any:
        op = draw(st.sampled_from([*ir_check.EXPR_OPS, "xor"]))
        args = draw(st.lists(children, max_size=3))
        node: dict[str, Any] = {"op": op, "args": args}
        if op == "attr" or draw(st.integers(0, 9)) == 0:
            node["name"] = draw(st.sampled_from(["k", "1k"]))
        if op == "call" or draw(st.integers(0, 9)) == 0:
            node["fn"] = draw(st.sampled_from([*ir_check.BUILTIN_FUNCTIONS, "eval"]))
        if op == "map" or draw(st.integers(0, 9)) == 0:
            # keys pair up with args (a mismatch is a load-time rule the schema lacks)
            node["keys"] = draw(st.sampled_from([[f"k{i}" for i in range(len(args))],
                                                 [1] * len(args)]))
        if draw(st.integers(0, 19)) == 0:
            del node["args"]
        return node
    return build()


EXPRESSIONS = st.recursive(_leaf(), _operation, max_leaves=12)


@given(EXPRESSIONS)
@settings(max_examples=400, deadline=None)
def test_shape_check_and_schema_agree_on_any_expression(expr: Any) -> None:
    doc = valid_ir()
    set_output(expr)(doc)
    assert shape_accepts(doc) == schema_accepts(doc), json.dumps(expr)


@given(EXPRESSIONS)
@settings(max_examples=150, deadline=None)
def test_shape_check_and_schema_agree_on_any_template(expr: Any) -> None:
    doc = valid_ir()
    node(doc, 0)["options"]["cwd"] = expr
    assert shape_accepts(doc) == schema_accepts(doc), json.dumps(expr)


# ------------------------------------------------------------------ tables


def test_tables_agree_with_the_schema_the_checker_and_the_evaluator() -> None:
    from chatflow.compiler.symbols import CTX_FIELDS
    from chatflow.compiler.typecheck import BUILTINS
    from chatflow.runtime import evaluator

    schema = ir_schema()["$defs"]
    plugin_rule = schema["action"]["allOf"][0]
    assert plugin_rule["if"]["not"]["properties"]["type"]["enum"] == list(ir_check.ACTIONS)
    assert set(plugin_rule["then"]["properties"]) - {"type"} == {
        *ir_check.PLUGIN_ACTION.required, *ir_check.PLUGIN_ACTION.optional}
    from chatflow.plugins.builtin import BUILTIN

    assert list(BUILTIN) == list(ir_check.ACTIONS)
    assert schema["node"]["properties"]["kind"]["enum"] == list(ir_check.NODE_KINDS)
    assert schema["operation"]["properties"]["op"]["enum"] == list(ir_check.EXPR_OPS)
    assert set(ir_check.BUILTIN_FUNCTIONS) == set(BUILTINS) == set(evaluator._BUILTINS)
    assert set(ir_check.CTX_NAMES) == set(CTX_FIELDS)
    evaluated = {*evaluator._EAGER_OPS, *evaluator._LAZY_OPS, "call", "list", "map", "fmt", "attr"}
    assert set(ir_check.EXPR_OPS) == evaluated
