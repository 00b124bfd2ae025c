"""IR version 1 is read as version 2: each shell template becomes a fixed
command plus bindings (the compiler's own placement), a template that cannot
be placed becomes an action that fails its step, nothing else changes; and
version 2's shell action is checked by the schema."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from chatflow.compiler.ir import dumps, load_ir
from chatflow.compiler.ir_upgrade import upgrade_ir
from chatflow.diagnostics import ChatflowError


def _shell(command: Any) -> dict[str, Any]:
    return {"id": "s", "kind": "step", "parent": None, "deps": [], "when": None,
            "optional": False,
            "fields": {"ok": "bool", "exit_code": "int", "stdout": "str", "stderr": "str"},
            "action": {"type": "shell", "command": command}, "options": {}}


def _doc(command: Any, version: int = 1) -> dict[str, Any]:
    return {"ir_version": version, "entry": "f", "flows": {"f": {
        "name": "f", "params": [{"name": "v", "type": "str"}], "outputs": [], "settings": {},
        "vars": [], "nodes": [_shell(command)]}}}


def _fmt(*parts: Any) -> dict[str, Any]:
    return {"op": "fmt", "args": [p if isinstance(p, dict) else {"lit": p} for p in parts]}


def test_a_version_1_template_becomes_command_and_bindings() -> None:
    old = _doc(_fmt('git commit -m "fix: ', {"param": "v"}, '"'))
    before = copy.deepcopy(old)
    new = load_ir(old)
    assert old == before                      # the input is not changed
    assert new["ir_version"] == 2
    assert new["flows"]["f"]["nodes"][0]["action"] == {
        "type": "shell", "command": 'git commit -m "fix: ${cf_v}"',
        "bindings": {"cf_v": {"param": "v"}}}
    assert load_ir(dumps(old)) == new         # from text too
    assert upgrade_ir(new) is new             # version 2 is left as it is


def test_a_template_that_cannot_be_placed_fails_only_its_step() -> None:
    new = load_ir(_doc(_fmt("cat <<", {"param": "v"}, "\nx\n")))
    action = new["flows"]["f"]["nodes"][0]["action"]
    assert action["type"] == "shell" and action["command"] == "" and action["bindings"] == {}
    assert "here-document's delimiter" in action["error"]
    assert "start a new instance" in action["error"]


def test_a_malformed_version_1_document_is_reported_by_the_validation() -> None:
    with pytest.raises(ChatflowError, match=r"\$\.flows"):
        load_ir({"ir_version": 1, "entry": "f", "flows": []})
    with pytest.raises(ChatflowError, match=r"nodes\[0\]\.action"):
        load_ir(_doc({"op": "fmt", "args": "nope"}))


@pytest.mark.parametrize(("action", "fragment"), [
    ({"type": "shell", "command": _fmt("x"), "bindings": {}}, "action"),
    ({"type": "shell", "command": "x"}, "action"),
    ({"type": "shell", "command": "x", "bindings": {"v": {"param": "v"}}}, "action"),
    ({"type": "shell", "command": "x", "bindings": {"cf_v": "v"}}, "action"),
])
def test_the_schema_checks_version_2_shell_actions(action: dict[str, Any],
                                                    fragment: str) -> None:
    doc = _doc("x", version=2)
    doc["flows"]["f"]["nodes"][0]["action"] = action
    with pytest.raises(ChatflowError, match=fragment):
        load_ir(json.loads(json.dumps(doc)))


def test_a_valid_version_2_shell_action_loads() -> None:
    doc = _doc("x", version=2)
    doc["flows"]["f"]["nodes"][0]["action"] = {
        "type": "shell", "command": 'echo $((${cf_1}))', "bindings": {"cf_1": {"param": "v"}},
        "integers": ["cf_1"]}
    assert load_ir(doc) == doc
