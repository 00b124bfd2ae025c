"""A plugin kind's step in the engine, in-process: rendered from its target
and options, run, its fields read by later steps and `out`; the plugin's
own errors, a missing plugin and another major version fail the step with a
message (never an exception out of the engine); a dry run shows `describe`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from plugin_support import make_dist, on_path

from chatflow.compiler.api import compile_path
from chatflow.runtime.api import WorkflowEngine
from chatflow.runtime.dry_run import plan_flow
from chatflow.runtime.store import open_store

FAKE = Path(__file__).resolve().parent / "fake_kinds"
FLOW = '''flow f(word: str, n: int = 2) -> (said: str, c: int) {
  step say: echo "hi {word}" {
    times n
    out loud: str = upper(text)
  }
  step show: shell "printf %s {say.loud} > said.txt"
  output said = say.text
  output c = say.count
}
'''


def site(tmp_path: Path, version: str = "1.2.0") -> Path:
    return make_dist(tmp_path / f"site-{version}", name="fake-echo", version=version,
                     entry_points="echo = fake_echo:ECHO")


def compile_ir(tmp_path: Path, src: str) -> dict[str, Any]:
    p = tmp_path / "t.flow"
    p.write_text(src, encoding="utf-8")
    res = compile_path(str(p))
    assert res.ir is not None, [d.message for d in res.diagnostics]
    return res.ir


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkflowEngine]:
    monkeypatch.chdir(tmp_path)
    store = open_store(f"file:{tmp_path / 'state'}")
    yield WorkflowEngine(store, workdir=str(tmp_path))
    store.close()


def error_of(engine: WorkflowEngine, iid: str) -> str:
    return str(engine.status(iid).to_dict()["steps"]["say"]["error"])


def run(engine: WorkflowEngine, ir: dict[str, Any], **inputs: Any) -> Any:
    iid = engine.start_workflow_instance(ir, inputs).instance_id
    return engine.run_until_blocked(iid), iid


def test_a_plugin_step_runs_and_feeds_later_steps(tmp_path: Path,
                                                 engine: WorkflowEngine) -> None:
    with on_path(site(tmp_path), FAKE):
        ir = compile_ir(tmp_path, FLOW)
        assert ir["flows"]["f"]["nodes"][0]["action"]["plugin"] == {
            "dist": "fake-echo", "version": "1.2.0"}
        state, iid = run(engine, ir, word="you")
        info = engine.status(iid).to_dict()
        assert state.status == "succeeded", info
        assert (tmp_path / "said.txt").read_text() == "HI YOU HI YOU"
        assert info["outputs"] == {"said": "hi you hi you", "c": 2}
        plan = plan_flow(ir, {"word": "x", "n": 3}, 100)
        assert plan[0]["describe"] == "echo 'hi x' x3"


@pytest.mark.parametrize(("option", "error"), [
    ("times -1", "echo: the plugin refused the values: ValueError: times must not be negative"),
    ('fail_with "boom"', "the `echo` plugin failed: RuntimeError: boom"),
])
def test_the_plugins_own_errors_fail_the_step(tmp_path: Path, engine: WorkflowEngine,
                                              option: str, error: str) -> None:
    with on_path(site(tmp_path), FAKE):
        ir = compile_ir(tmp_path, f'flow f() {{\n  step say: echo "x" {{ {option} }}\n}}\n')
        state, iid = run(engine, ir)
    assert state.status == "failed"
    # a refused value is a rendering error: it names the step and its line, as
    # the built-in kinds' rendering errors do
    assert error_of(engine, iid).endswith(error), error_of(engine, iid)


def test_missing_or_other_major_version_fails_the_step(tmp_path: Path,
                                                        engine: WorkflowEngine) -> None:
    with on_path(site(tmp_path), FAKE):
        ir = compile_ir(tmp_path, FLOW)
    state, iid = run(engine, ir, word="a")  # not installed now
    assert state.status == "failed"
    err = error_of(engine, iid)
    assert err.startswith("the action kind `echo` is not installed: this flow was compiled "
                          "with the plugin fake-echo 1.2.0; install it")
    with on_path(site(tmp_path, "2.0.0"), FAKE):
        state, iid = run(engine, ir, word="a")
        plan = plan_flow(ir, {"word": "x"}, 100)
    err = error_of(engine, iid)
    assert "installed from fake-echo 2.0.0, but this flow was compiled with fake-echo " \
           "1.2.0 (another major version)" in err
    assert "another major version" in plan[0]["error"]
    other = make_dist(tmp_path / "site-other", name="other-echo", version="1.2.0",
                      entry_points="echo = fake_echo:ECHO")
    with on_path(other, FAKE):  # the same kind from another distribution
        state, iid = run(engine, ir, word="a")
    assert "provided by other-echo 1.2.0, but this flow was compiled with fake-echo 1.2.0" \
        in error_of(engine, iid)
    with on_path(site(tmp_path, "1.9.1"), FAKE):  # same major version: runs
        state, _ = run(engine, ir, word="a")
    assert state.status == "succeeded"
