"""Issue 7 item 4: failures the user can see.

The views `chatflow run / resume / status / history` print, computed in
`chatflow.runtime.views` (how the CLI prints them is tested in
tests/e2e/test_cli_in_process.py): the last lines
of a failed step's output, each step's duration, sub-flow progress named by
the call step, loop iterations, the most recent instance. Engine tests run
on every state-store backend.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import backend, store_url  # noqa: F401  (fixtures)
from chatflow.compiler.api import compile_path
from chatflow.runtime.api import WorkflowEngine
from chatflow.runtime.store import open_store
from chatflow.runtime.views import (
    duration_ms,
    latest_instance,
    output_tail,
    step_output_tail,
)

# ---------------------------------------------------------------------------- tails


def test_the_tail_is_the_last_lines_of_stderr() -> None:
    err = "".join(f"line {i}\n" for i in range(1, 31)) + "\n\n"
    tail = output_tail({"ok": False, "stdout": "out\n", "stderr": err})
    assert tail is not None
    assert tail.stream == "stderr" and tail.total == 30 and tail.cut
    assert tail.lines == tuple(f"line {i}" for i in range(21, 31))


def test_stdout_when_stderr_is_empty_and_none_when_both_are() -> None:
    tail = output_tail({"stdout": "only here\n", "stderr": "  \n"})
    assert tail is not None and tail.stream == "stdout" and tail.lines == ("only here",)
    assert not tail.cut
    assert output_tail({"stdout": "", "stderr": ""}) is None


def test_lines_are_shown_as_a_terminal_would() -> None:
    text = "progress 10%\rprogress 100%\n\x1b[31mred error\x1b[0m\n\x07bell\n" + "x" * 900
    tail = output_tail({"stderr": text})
    assert tail is not None
    assert tail.lines[:3] == ("progress 100%", "red error", "bell")
    assert tail.lines[3] == "x" * 500 + "…"
    crlf = output_tail({"stderr": "one\r\ntwo\r\n"})
    assert crlf is not None and crlf.lines == ("one", "two")


def test_a_call_step_has_no_tail_of_its_own() -> None:
    assert output_tail({"ok": False, "instance_id": "c-1"}, lambda name: b"never read") is None


def test_actions_without_output_fields_read_their_stored_files() -> None:
    files = {"stderr": b"Traceback\nValueError: bad input\n"}
    tail = output_tail({"ok": False, "value": None}, files.get)
    assert tail is not None and tail.lines[-1] == "ValueError: bad input"
    assert output_tail({"ok": False, "value": None}, {}.get) is None


def test_duration() -> None:
    assert duration_ms("2024-01-01T00:00:00Z", "2024-01-01T00:00:01.250Z") == 1250
    assert duration_ms("2024-01-01T00:00:00Z", None, now=1704067202.0) == 2000
    assert duration_ms(None, "2024-01-01T00:00:01Z") is None


# ---------------------------------------------------------------------------- the engine


@pytest.fixture()
def engine(store_url: str, tmp_path: Path,  # noqa: F811
           monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkflowEngine]:
    monkeypatch.chdir(tmp_path)
    store = open_store(store_url)
    eng = WorkflowEngine(store, workdir=str(tmp_path))
    yield eng
    store.close()


def start(engine: WorkflowEngine, tmp: Path, src: str, **kw: Any) -> str:
    p = tmp / "t.flow"
    p.write_text(src, encoding="utf-8")
    res = compile_path(str(p), "t")
    assert res.ir is not None, [d.message for d in res.diagnostics]
    return engine.start_workflow_instance(res.ir, **kw).instance_id


class Collect:
    def __init__(self) -> None:
        self.events: list[tuple[str, str | None, dict[str, Any]]] = []

    def __call__(self, etype: str, step: str | None, data: Any) -> None:
        self.events.append((etype, step, dict(data)))


def test_a_python_steps_traceback_is_its_tail(engine: WorkflowEngine, tmp_path: Path) -> None:
    (tmp_path / "userlib.py").write_text(textwrap.dedent("""
        def boom(reason):
            raise ValueError(reason)
    """))
    iid = start(engine, tmp_path, """
flow t() {
  step p: python "userlib:boom" { with { reason: "bad input" } }
}""")
    engine.run_until_blocked(iid)
    info = engine.status(iid)
    assert info.steps["p"].status == "failed"
    tail = step_output_tail(engine, iid, "p", info.steps["p"].outputs)
    assert tail is not None and tail.stream == "stderr"
    assert tail.lines[-1] == "ValueError: bad input"


def test_steps_have_durations(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = start(engine, tmp_path, """
flow t() {
  var n: int = 0
  step slow: shell "sleep 0.3"
  step count: set n = n + 1
  step never when false: shell "echo no"
}""")
    engine.run_until_blocked(iid)
    steps = engine.status(iid).to_dict()["steps"]
    assert steps["slow"]["duration_ms"] >= 250
    assert steps["slow"]["started_at"] <= steps["slow"]["finished_at"]
    assert 0 <= steps["count"]["duration_ms"] < 1000
    assert "duration_ms" not in steps["never"]  # it never ran


def test_sub_flow_events_carry_the_call_path(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = start(engine, tmp_path, """
flow t() {
  step staging: call mid()
}
flow mid() {
  step deploy: call leaf()
}
flow leaf() {
  step checkout: shell "echo out; exit 2"
}""")
    sink = Collect()
    engine.run_until_blocked(iid, on_event=sink)
    done = {(tuple((d.get("subflow") or {}).get("path", ())), step): d
            for etype, step, d in sink.events if etype == "step_completed"}
    assert set(done) == {((), "staging"), (("staging",), "deploy"),
                         (("staging", "deploy"), "checkout")}
    leaf = done[(("staging", "deploy"), "checkout")]
    assert leaf["status"] == "failed" and leaf["subflow"]["instance_id"].startswith("leaf-")
    assert "subflow" not in done[((), "staging")]
    # the history itself is unchanged: no display data is stored
    for inst in engine.list_instances():
        assert all("subflow" not in e.data for e in engine.history(inst["instance_id"]))


def test_loop_steps_say_their_iteration(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = start(engine, tmp_path, """
flow t() {
  var n: int = 0
  repeat loop max 5 until n >= 3 {
    step bump: set n = n + 1
    step show: shell "echo {n}"
  }
}""")
    sink = Collect()
    engine.run_until_blocked(iid, on_event=sink)
    started = [d.get("iteration") for e, s, d in sink.events
               if e == "step_started" and s == "show"]
    assert started == [1, 2, 3]
    steps = engine.instance_view(iid).info["steps"]
    assert steps["loop"]["outputs"]["iterations"] == 3
    assert len(steps["show"]["iterations"]) == 3


def test_the_most_recent_instance_is_the_last_touched_top_level_one(
        engine: WorkflowEngine, tmp_path: Path) -> None:
    assert latest_instance(engine.store) is None and engine.latest_instance_id() is None
    src = """
flow t() {
  step c: call child()
}
flow child() {
  step s: shell "echo"
}"""
    first = start(engine, tmp_path, src)
    engine.run_until_blocked(first)
    time.sleep(0.01)
    second = start(engine, tmp_path, src)
    engine.run_until_blocked(second)
    latest = latest_instance(engine.store)
    assert latest is not None and latest.instance_id == second  # not its child
    time.sleep(0.01)
    engine.cancel(first)  # already finished: cancelling changes nothing
    time.sleep(0.01)
    third = start(engine, tmp_path, src.replace('"echo"', '"echo" { risk 90 }'),
                  automation_level=50)
    engine.run_until_blocked(third)
    assert latest_instance(engine.store).instance_id == third
    assert engine.latest_instance_id() == third
