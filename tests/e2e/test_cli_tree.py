"""The installed `chatflow status ID --tree` (and the quota in `status`), and the
fan-out refactoring example run end to end with its scripted agents."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import EXAMPLES, run_chatflow

TREE_FLOW = """
flow t() -> (n: int) {
  quota tokens 1_000, steps 50
  step a: call sub(x: 1)
  step b: call sub(x: 2)
  output n = a.y + b.y
}
flow sub(x: int) -> (y: int) {
  step s: shell "echo {x}"
  step c when x < 2: call leaf()
  output y = x
}
flow leaf() {
  step l: shell "echo leaf"
}
"""


def start_tree(tmp_path: Path) -> str:
    (tmp_path / "t.flow").write_text(TREE_FLOW, encoding="utf-8")
    r = run_chatflow("run", "t.flow:t", "--json", cwd=tmp_path)
    assert r.code == 0, r.output
    iid: str = json.loads(r.stdout)["instance_id"]
    return iid


def test_status_tree_draws_children_in_plain_text(tmp_path: Path) -> None:
    iid = start_tree(tmp_path)
    r = run_chatflow("status", iid, "--tree", cwd=tmp_path)
    assert r.code == 0, r.output
    lines = r.stdout.splitlines()
    assert len(lines) == 4, r.stdout
    assert lines[0].startswith(iid)
    assert " t " in lines[0] and "succeeded" in lines[0] and "100%" in lines[0]
    assert "steps 6/50" in lines[0] and "tokens 0/1,000" in lines[0]
    assert lines[1].startswith("├── a: sub-") and "succeeded" in lines[1]
    assert lines[2].startswith("│   └── c: leaf-")
    assert lines[3].startswith("└── b: sub-")
    assert "\x1b[" not in r.stdout  # no colour codes when not a terminal


def test_status_tree_json_is_nested(tmp_path: Path) -> None:
    iid = start_tree(tmp_path)
    r = run_chatflow("status", iid, "--tree", "--json", cwd=tmp_path)
    assert r.code == 0, r.output
    root = json.loads(r.stdout)
    assert root["instance_id"] == iid and root["flow"] == "t"
    assert root["quota"] == {"tokens": {"limit": 1000, "spent": 0},
                             "steps": {"limit": 50, "spent": 6}}
    kids = root["children"]
    assert [(k["step"], k["flow"], k["status"], k["depth"]) for k in kids] == [
        ("a", "sub", "succeeded", 1), ("b", "sub", "succeeded", 1)]
    assert [g["flow"] for g in kids[0]["children"]] == ["leaf"]
    assert kids[0]["children"][0]["children"] == []
    assert kids[1]["children"] == []


def test_status_shows_quota_spending(tmp_path: Path) -> None:
    iid = start_tree(tmp_path)
    r = run_chatflow("status", iid, "--json", cwd=tmp_path)
    assert json.loads(r.stdout)["quota"]["steps"] == {"limit": 50, "spent": 6}
    text = run_chatflow("status", iid, cwd=tmp_path).stdout
    assert "quota" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("steps"))
    assert row.split() == ["steps", "6", "50", "12%"]
    child = json.loads(run_chatflow("status", iid, "--tree", "--json",
                                    cwd=tmp_path).stdout)["children"][0]["instance_id"]
    assert "quota" not in json.loads(run_chatflow("status", child, "--json",
                                                  cwd=tmp_path).stdout)


def test_status_tree_unknown_instance_is_a_usage_error(tmp_path: Path) -> None:
    r = run_chatflow("status", "nope-123", "--tree", cwd=tmp_path)
    assert r.code == 2
    assert "nope-123" in r.stderr


# ---------------------------------------------------------------------------- the example


@pytest.fixture()
def demo(tmp_path: Path) -> Path:
    for name in ("refactor_fanout.flow", "refactor_module.flow"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    shutil.copytree(EXAMPLES / "agents", tmp_path / "agents")
    (tmp_path / ".chatflow").mkdir()
    shutil.copy(EXAMPLES / "agents" / "config.yaml.example",
                tmp_path / ".chatflow" / "config.yaml")
    return tmp_path


def tree_of(demo: Path, iid: str) -> dict[str, Any]:
    r = run_chatflow("status", iid, "--tree", "--json", cwd=demo)
    assert r.code == 0, r.output
    tree: dict[str, Any] = json.loads(r.stdout)
    return tree


def test_fanout_example_runs_with_scripted_agents(demo: Path) -> None:
    assert run_chatflow("lint", "refactor_fanout.flow", cwd=demo).code == 0
    r = run_chatflow("run", "refactor_fanout.flow", "--json", cwd=demo,
                     env={"SCRIPTED_AGENT_DELAY": "0"})
    assert r.code == 0, r.output
    info = json.loads(r.stdout)
    assert info["status"] == "succeeded"
    assert info["outputs"] == {"all_fixed": True, "rounds": 7}
    # 4 plans of 4,000 tokens and 3 fixes of 2,500, all counted at the root
    assert info["quota"]["tokens"] == {"limit": 50_000, "spent": 23_500}
    tree = tree_of(demo, info["instance_id"])
    kids = tree["children"]
    assert sorted(k["step"] for k in kids) == ["a", "b", "c", "d"]
    assert {k["flow"] for k in kids} == {"refactor_module"}
    assert all(k["status"] == "succeeded" for k in kids)
    assert (demo / "work" / "c.bugs").read_text(encoding="utf-8") == "0"


def test_fanout_example_stops_at_its_token_quota(demo: Path) -> None:
    r = run_chatflow("run", "refactor_fanout.flow", "--json", cwd=demo,
                     env={"SCRIPTED_AGENT_DELAY": "0", "SCRIPTED_AGENT_TOKENS": "20000"})
    assert r.code == 1, r.output
    info = json.loads(r.stdout)
    assert info["status"] == "failed"
    assert info["quota"]["tokens"]["spent"] > 50_000
    tree = tree_of(demo, info["instance_id"])
    ids = [tree["instance_id"]]
    todo = list(tree["children"])
    while todo:
        node = todo.pop()
        assert node["status"] != "running"
        ids.append(node["instance_id"])
        todo.extend(node["children"])
    events = []
    for iid in ids:
        out = run_chatflow("history", iid, "--json", cwd=demo).stdout
        events += [json.loads(line) for line in out.splitlines()]
    crossed = [e for e in events if e["type"] == "quota_exceeded"]
    assert crossed, "no quota_exceeded event in the tree"
    assert crossed[0]["data"]["quota"] == "tokens"
    assert crossed[0]["data"]["limit"] == 50_000
    assert crossed[0]["data"]["spent"] > 50_000
