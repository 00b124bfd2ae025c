"""`ir.dumps` / `load_ir`: canonical bytes, version, schema and cross-reference checks."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatflow.compiler.ir import dumps, ir_schema, json_path, load_ir
from chatflow.diagnostics import ChatflowError


def fmt(*parts: Any) -> dict[str, Any]:
    return {"op": "fmt", "args": list(parts)}


def node(id_: str, kind: str = "step", parent: str | None = None, deps: tuple[str, ...] = (),
         **extra: Any) -> dict[str, Any]:
    n: dict[str, Any] = {"id": id_, "kind": kind, "parent": parent, "deps": list(deps),
                         "when": None, "optional": False, "fields": {"ok": "bool"}}
    if kind == "step":
        n["action"] = {"type": "shell", "command": "true", "bindings": {}}
        n["options"] = {}
    n.update(extra)
    return n


def valid_ir() -> dict[str, Any]:
    """A small IR with every node kind, a call and a bundled callee."""
    return {
        "ir_version": 2,
        "entry": "main",
        "flows": {
            "main": {
                "name": "main",
                "params": [{"name": "p", "type": "str", "default": {"lit": "x"}}],
                "outputs": [{"name": "done", "type": "bool",
                             "value": {"op": "??", "args": [{"step": "c", "field": "fixed"},
                                                            {"lit": False}]}}],
                "settings": {"automation": 60, "quota": {"cpu_ms": 600000, "steps": 5}},
                "vars": [{"name": "n", "type": "list[int]?", "value": {"lit": None}}],
                "nodes": [
                    node("a", action={"type": "shell", "command": 'echo "${cf_p}" $((${cf_1}))',
                                      "bindings": {"cf_p": {"param": "p"},
                                                   "cf_1": {"op": "call", "fn": "len",
                                                            "args": [{"param": "p"}]}},
                                      "integers": ["cf_1"]},
                         options={"timeout_ms": 1000, "retry": {"times": 2, "backoff_ms": 0},
                                       "out": [{"name": "k", "type": "int", "value": {
                                           "op": "call", "fn": "len",
                                           "args": [{"self": "stdout"}]}}]},
                         span={"line": 3, "column": 3, "end_line": 3, "end_column": 20}),
                    node("g", "parallel", deps=("a",), members=["b", "r"], max=None),
                    node("b", parent="g", optional=True,
                         when={"op": "not", "args": [{"step": "a", "field": "ok"}]}),
                    node("r", "repeat", parent="g", members=["s"], max=3,
                         until={"step": "s", "field": "ok"}),
                    node("s", parent="r", action={"type": "set", "var": "n",
                                                  "value": {"op": "list", "args": []}}),
                    node("c", deps=("g",), action={"type": "call", "flow": "std:bugfix",
                                                   "args": {"issue": fmt({"param": "p"})}},
                         fields={"ok": "bool", "fixed": "bool"}),
                ],
                "source": {"file": "main.flow", "sha256": "0" * 64},
            },
            "std:bugfix": {
                "name": "bugfix", "params": [{"name": "issue", "type": "str"}],
                "outputs": [{"name": "fixed", "type": "bool", "value": {"lit": True}}],
                "settings": {}, "vars": [], "nodes": [],
            },
        },
    }


def rejects(doc: Any, *fragments: str) -> str:
    with pytest.raises(ChatflowError) as exc:
        load_ir(doc)
    msg = exc.value.message
    for f in fragments:
        assert f in msg, msg
    assert "Traceback" not in msg
    return msg


def test_valid_ir_loads_from_dict_text_and_bytes() -> None:
    doc = valid_ir()
    assert load_ir(doc) == doc
    assert load_ir(dumps(doc)) == doc
    assert load_ir(dumps(doc).encode()) == doc


def test_dumps_is_canonical() -> None:
    doc = valid_ir()
    text = dumps(doc)
    assert text.endswith("}\n") and text == dumps(json.loads(text))
    shuffled = dict(reversed(list(doc.items())))
    assert dumps(shuffled) == text
    assert dumps({"s": "é"}) == '{\n  "s": "é"\n}\n'


def test_json_path() -> None:
    assert json_path([]) == "$"
    assert json_path(["flows", "std:bugfix", "nodes", 3, "deps"]) == \
        '$.flows["std:bugfix"].nodes[3].deps'


@pytest.mark.parametrize(("text", "fragment"), [
    ("{", "not JSON"),
    ("[]", "expected an object, got an array"),
    ("{}", "missing `ir_version`"),
])
def test_not_an_ir(text: str, fragment: str) -> None:
    rejects(text, fragment)


@pytest.mark.parametrize(("version", "fragments"), [
    (4, ("$.ir_version", "unsupported IR version 4", "reads IR versions 1, 2, 3")),
    (0, ("unsupported IR version 0",)),
    ("1", ("$.ir_version", "expected an integer, got a string")),
    (True, ("expected an integer, got a boolean",)),
])
def test_bad_version(version: Any, fragments: tuple[str, ...]) -> None:
    doc = valid_ir()
    doc["ir_version"] = version
    rejects(doc, *fragments)


def _main(doc: dict[str, Any]) -> dict[str, Any]:
    flow: dict[str, Any] = doc["flows"]["main"]
    return flow


@pytest.mark.parametrize(("mutate", "fragments"), [
    (lambda d: d.pop("entry"), ("$:", "'entry' is a required property")),
    (lambda d: _main(d).pop("nodes"), ("$.flows.main", "'nodes' is a required property")),
    (lambda d: _main(d)["nodes"][0].pop("deps"), ("$.flows.main.nodes[0]", "'deps'")),
    (lambda d: _main(d)["nodes"][0].update(kind="loop"), ("$.flows.main.nodes[0].kind",)),
    (lambda d: _main(d)["nodes"][1].pop("members"), ("$.flows.main.nodes[1]", "'members'")),
    (lambda d: _main(d)["nodes"][3].pop("until"), ("$.flows.main.nodes[3]", "'until'")),
    (lambda d: _main(d)["nodes"][0]["options"].update(timeout_ms=-1),
     ("$.flows.main.nodes[0].options.timeout_ms",)),
    (lambda d: _main(d)["nodes"][0]["options"].update(retries=1),
     ("$.flows.main.nodes[0].options", "retries")),
    (lambda d: _main(d)["outputs"][0]["value"].update(op="==", args=[{"lit": 1}] * 3),
     ("$.flows.main.outputs[0].value", "`==` takes 2 operands, got 3")),
    (lambda d: _main(d)["outputs"][0]["value"]["args"][0].pop("field"),
     ("$.flows.main.outputs[0].value.args[0]",)),
    (lambda d: _main(d)["nodes"][2]["when"]["args"][0].update(bogus=1),
     ("$.flows.main.nodes[2].when.args[0]",)),
    (lambda d: _main(d)["settings"].update(automation=101), ("$.flows.main.settings.automation",)),
    (lambda d: _main(d)["vars"][0].update(type="lst[int]"), ("$.flows.main.vars[0].type",)),
    (lambda d: _main(d)["nodes"][5]["action"].pop("flow"),
     ("$.flows.main.nodes[5].action",)),
    (lambda d: _main(d)["source"].update(sha256="xyz"), ("$.flows.main.source.sha256",)),
])
def test_schema_violations_name_the_path(mutate: Any, fragments: tuple[str, ...]) -> None:
    doc = valid_ir()
    mutate(doc)
    rejects(doc, "invalid IR at", *fragments)


@pytest.mark.parametrize(("mutate", "fragments"), [
    (lambda d: d.update(entry="nope"), ("$.entry", "entry flow `nope` is not in `flows`")),
    (lambda d: _main(d)["nodes"][5].update(deps=["ghost"]),
     ("$.flows.main.nodes[5].deps[0]", "dependency `ghost` is not a node of `main`")),
    (lambda d: _main(d)["nodes"][0].update(deps=["a"]), ("depends on itself",)),
    (lambda d: _main(d)["nodes"][1]["members"].append("zz"),
     ("$.flows.main.nodes[1].members[2]", "member `zz` is not a node")),
    (lambda d: _main(d)["nodes"][1]["members"].remove("b"),
     ("$.flows.main.nodes[2].parent", "`g` does not list `b` among its members")),
    (lambda d: _main(d)["nodes"][2].update(parent="nowhere"),
     ("$.flows.main.nodes[2].parent", "parent `nowhere` is not a node")),
    (lambda d: _main(d)["nodes"][1]["members"].append("c"),
     ("member `c` does not have `g` as parent",)),
    (lambda d: d["flows"].pop("std:bugfix"),
     ("$.flows.main.nodes[5].action.flow", "called flow `std:bugfix` is not in `flows`")),
    (lambda d: _main(d)["nodes"].append(node("a")), ("$.flows.main.nodes[6].id", "duplicate")),
    (lambda d: _main(d)["nodes"][4]["action"].update(var="m"),
     ("$.flows.main.nodes[4].action.var", "`m` is not a var of `main`")),
    (lambda d: _main(d)["outputs"][0]["value"]["args"][0].update(step="cc"),
     ("$.flows.main.outputs[0].value.args[0].step", "reads `cc`")),
])
def test_dangling_references(mutate: Any, fragments: tuple[str, ...]) -> None:
    doc = valid_ir()
    mutate(doc)
    rejects(doc, "invalid IR at", *fragments)


def test_a_run_of_one_operator_is_one_operation() -> None:
    """`a ?? b ?? c` lowers to one `??` of three operands (docs/ir.md, EXPR)."""
    doc = valid_ir()
    _main(doc)["outputs"][0]["value"]["args"].append({"lit": True})
    assert load_ir(doc) == doc
    _main(doc)["outputs"][0]["value"]["args"][1:] = []
    rejects(doc, "$.flows.main.outputs[0].value.args", "`??` takes at least 2 operands, got 1")


def test_load_ir_does_not_mutate_or_accept_garbage_shapes() -> None:
    doc = valid_ir()
    before = copy.deepcopy(doc)
    load_ir(doc)
    assert doc == before
    rejects({"ir_version": 1, "entry": "x", "flows": []}, "$.flows")


def test_schema_is_draft_2020_12_and_valid() -> None:
    import jsonschema

    schema = ir_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_jsonschema_not_imported_by_dumps() -> None:
    code = ("import sys; from chatflow.compiler import ir, lower, graph_render; "
            "ir.dumps({}); print('jsonschema' in sys.modules, 'networkx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30)


@given(st.dictionaries(st.text(), _json, max_size=5))
@settings(max_examples=300, deadline=None)
def test_dumps_equals_stdlib_canonical_form(doc: dict[str, Any]) -> None:
    assert dumps(doc) == json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_dumps_writes_containers_past_the_indented_levels_on_one_line() -> None:
    """Indenting every level is quadratic in the depth; past INDENTED_LEVELS
    the text is the one-line JSON, so a 1,000-deep tree stays small."""
    from chatflow.compiler.ir import INDENTED_LEVELS
    from chatflow.deep import room

    deep: Any = {"lit": 1}
    for _ in range(1000):
        deep = {"op": "not", "args": [deep]}
    doc = {"x": deep}
    with room():
        text = dumps(doc)
        assert json.loads(text) == doc
    assert len(text) < 40_000
    shallow: Any = 1
    for _ in range(INDENTED_LEVELS - 1):
        shallow = [shallow]
    assert dumps({"x": shallow}) == json.dumps({"x": shallow}, indent=2) + "\n"
