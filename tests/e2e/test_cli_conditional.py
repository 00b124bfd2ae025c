"""`if ... then ... else` and the text built-ins through the installed CLI:
`examples/release_notes.flow` runs end to end (its `env(...)` read from the
driving process), the branch not taken never fails a step, and a dry run
reports an `if` whose condition reads a step that has not run as decided at
run time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cli_helpers import EXAMPLES, run_chatflow


def last_json(text: str) -> Any:
    return json.loads(text[text.index("{"):])


def test_release_notes_example_runs(tmp_path: Path) -> None:
    r = run_chatflow("run", str(EXAMPLES / "release_notes.flow"), "-i", "tag=v0.9.1",
                     "--json", cwd=tmp_path, env={"CHATFLOW_RELEASE_CHANNEL": "nightly"})
    assert r.code == 0, r.output
    state = last_json(r.stdout)
    assert state["status"] == "succeeded"
    assert state["outputs"] == {
        "title": "Release v0.9.1 (preview, 2 features)",
        "version": "0.9",
        "notes": "feat - add matrices; fix - resume after crash; feat - secrets",
        "channel": "nightly",
    }


FLOW = """\
flow pick(fast: bool = true) -> (mode: str, n: int) {
  step probe: shell "printf 'v2.0\\\\n'"
  step use when (if probe.ok then true else int("x") > 0):
    shell "echo {if fast then "quick" else str(int("no"))}"
  output mode = if fast then "quick" else str(int("never"))
  output n = if probe.ok then len(lines(probe.stdout)) else int("never")
}
"""


def test_only_the_branch_taken_is_evaluated(tmp_path: Path) -> None:
    (tmp_path / "pick.flow").write_text(FLOW, encoding="utf-8")
    r = run_chatflow("run", "pick.flow", "--json", cwd=tmp_path)
    assert r.code == 0, r.output
    state = last_json(r.stdout)
    assert state["status"] == "succeeded"
    assert state["outputs"] == {"mode": "quick", "n": 1}
    assert state["steps"]["use"]["outputs"]["stdout"] == "quick\n"


def test_dry_run_leaves_an_unknown_condition_to_run_time(tmp_path: Path) -> None:
    (tmp_path / "pick.flow").write_text(FLOW, encoding="utf-8")
    r = run_chatflow("run", "pick.flow", "--dry-run", cwd=tmp_path)
    assert r.code == 0, r.output
    assert "decided at run time (reads probe.ok)" in r.stdout
    assert "error" not in r.stdout.lower()
    r = run_chatflow("graph", "pick.flow", cwd=tmp_path)
    assert r.code == 0 and "when if probe.ok then true else int(" in r.stdout, r.stdout
