"""The runtime's commands run in this process through `chatflow.cli.run` (the
one place a `ChatflowError` becomes `error: ...` and its exit code), and how
`chatflow.cli_render` prints the runtime's views: progress lines, the status
text, the sub-flow tree."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Run

from chatflow.cli import run as cli_run
from chatflow.cli_render import Progress, render_tree_text
from chatflow.runtime.api import WorkflowEngine

Cli = Callable[..., Run]


@pytest.fixture()
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """`chatflow ARGS` in this process, in `tmp_path`, with the default state."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHATFLOW_STATE", raising=False)

    def invoke(*args: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli_run(list(args))
        return Run(code, out.getvalue(), err.getvalue())

    yield invoke
    WorkflowEngine.forget()


def test_cli_run_status_history(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "f.flow").write_text(
        'flow f(n: int, tags: list[str] = []) -> (m: int) {\n'
        '  step a: shell "echo {n}"\n  output m = n + len(tags)\n}\n')
    r = cli("run", "f.flow", "-i", "n=4", "-i", 'tags=["x","y"]', "--json")
    assert r.code == 0, r.output
    st = json.loads(r.stdout[r.stdout.index("{"):])
    assert st["outputs"] == {"m": 6}
    iid = st["instance_id"]
    r = cli("history", iid, "--json")
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert lines[0]["type"] == "instance_started" and lines[-1]["type"] == "instance_completed"
    r = cli("status", "missing-id")
    assert r.code == 2 and r.stderr.startswith("error: ")
    r = cli("run", "f.flow", "-i", "n=four")
    assert r.code == 2 and "input `n`" in r.stderr
    r = cli("list", "--json")
    assert iid in r.stdout


def test_chatflow_run_does_not_validate_what_it_compiled(
        cli: Cli, tmp_path: Path, ir_checks: list[int]) -> None:
    seen = ir_checks
    (tmp_path / "t.flow").write_text(
        'flow t(x: bool = true) -> (r: bool) {\n  step a: shell "true"\n  output r = x\n}\n',
        encoding="utf-8")
    r = cli("run", "t.flow", "--json")
    assert r.code == 0, r.output
    assert seen == []
    iid = json.loads(r.stdout[r.stdout.index("{"):])["instance_id"]
    WorkflowEngine.forget()  # as a new process: `resume` reads the pinned IR
    r = cli("resume", iid)
    assert r.code == 0, r.output
    assert seen == [1]


def test_loop_iterations_in_progress_lines_and_status(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "t.flow").write_text("""
flow t() {
  var n: int = 0
  repeat loop max 5 until n >= 3 {
    step bump: set n = n + 1
    step show: shell "echo {n}"
  }
}""", encoding="utf-8")
    r = cli("run", "t.flow")
    assert r.code == 0, r.output
    assert '▶ show (iteration 3) echo "${cf_n}"  · cf_n="3"' in r.stderr
    assert "✔ show succeeded (iteration 2)" in r.stderr
    assert "✔ loop succeeded after 3 iterations" in r.stderr
    status = cli("status").stdout
    assert "3 iterations" in status and "iteration 3" in status


def test_progress_names_sub_flow_steps_and_shows_the_tail_unwrapped() -> None:
    out = io.StringIO()
    progress = Progress(stream=out)
    long_cmd = "echo " + "word " * 60
    sub = {"subflow": {"path": ["staging"], "instance_id": "child-1"}}
    progress("step_started", "checkout", {"attempt": 1, "command": long_cmd, **sub})
    progress("step_completed", "checkout", {
        "status": "failed", "error": "command exited with code 3",
        "outputs": {"ok": False, "stdout": "", "stderr": "first\nfatal: it broke\n"}, **sub})
    progress("instance_completed", None, {"status": "failed", **sub})
    progress("step_completed", "staging", {"status": "failed", "error": "sub-flow failed",
                                           "outputs": {"ok": False, "instance_id": "c"}})
    lines = out.getvalue().splitlines()
    assert lines[0] == f"▶ staging \u203a checkout {long_cmd}".rstrip()  # one line, unwrapped
    assert lines[1] == "✘ staging \u203a checkout failed: command exited with code 3"
    assert lines[2:4] == ["  │ first", "  │ fatal: it broke"]
    assert "stderr" in lines[4]
    assert lines[5] == "✘ staging failed: sub-flow failed"  # no tail for the call itself
    assert len(lines) == 6  # the child's instance_completed is the call step's line
    assert progress.shown == {("child-1", "checkout")}


def test_the_tree_text_nests_children_under_their_call_steps() -> None:
    def node(iid: str, flow: str, step: str | None, children: list[dict[str, Any]],
             **extra: Any) -> dict[str, Any]:
        return {"instance_id": iid, "flow": flow, "status": "succeeded", "progress": 1.0,
                "depth": 0, "step": step, "error": None, "waiting": [], **extra,
                "children": children}

    root = node("t-1", "t", None, [
        node("mid-1", "mid", "first", [node("leaf-1", "leaf", "inner", [])]),
        node("leaf-2", "leaf", "second", []),
    ], quota={"tokens": {"limit": 5_000, "spent": 1_200}})
    lines = render_tree_text(root).splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("t-1") and "tokens 1,200/5,000" in lines[0]
    assert lines[1].startswith("├── first: ") and " mid " in lines[1]
    assert lines[2].startswith("│   └── inner: ") and " leaf " in lines[2]
    assert lines[3].startswith("└── second: ") and "succeeded" in lines[3]
