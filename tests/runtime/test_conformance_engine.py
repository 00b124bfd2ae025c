"""Engine conformance: docs/language.md §8 semantics on every state-store backend.

Each test compiles a small `.flow` source, runs it through `WorkflowEngine`
on a fresh store of the parametrized backend, and checks statuses, fields,
outputs and history.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import backend, store_url  # noqa: F401  (fixtures)
from chatflow.compiler.api import compile_path
from chatflow.diagnostics import UsageError
from chatflow.runtime.api import WorkflowEngine
from chatflow.runtime.store import open_store
from chatflow.runtime.store.records import StepRecord


@pytest.fixture()
def engine(store_url: str, tmp_path: Path,  # noqa: F811
           monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkflowEngine]:
    """A WorkflowEngine on a fresh store of each backend (tests/backends.py:
    file, sqlite, and postgresql when CHATFLOW_TEST_PG_DSN is set)."""
    monkeypatch.chdir(tmp_path)
    store = open_store(store_url)
    eng = WorkflowEngine(store, workdir=str(tmp_path))
    yield eng
    store.close()


def compile_src(tmp: Path, src: str, name: str = "t.flow") -> dict[str, Any]:
    p = tmp / name
    p.write_text(src, encoding="utf-8")
    res = compile_path(str(p))
    assert res.ir is not None, [d.message for d in res.diagnostics]
    return res.ir


def run(engine: WorkflowEngine, tmp: Path, src: str, **kw: Any) -> str:
    ir = compile_src(tmp, src)
    iid = engine.start_workflow_instance(ir, **kw).instance_id
    engine.run_until_blocked(iid)
    return iid


def events(engine: WorkflowEngine, iid: str) -> list[Any]:
    return list(engine.history(iid))


def steps(engine: WorkflowEngine, iid: str) -> dict[str, Any]:
    return engine.status(iid).to_dict()["steps"]


def test_linear_flow_succeeds_and_binds_outputs(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t(who: str) -> (greeting: str, n: int) {
  var count: int = 1
  step a: shell "echo hi {who}"
  step b: set count = count + 41
  output greeting = trim(a.stdout)
  output n = count
}""", inputs={"who": "bob"})
    info = engine.status(iid).to_dict()
    assert info["status"] == "succeeded"
    assert info["progress"] == 1.0
    assert info["outputs"] == {"greeting": "hi bob", "n": 42}
    assert info["steps"]["a"]["outputs"]["exit_code"] == 0
    types = [e.type for e in events(engine, iid)]
    assert types[0] == "instance_started" and types[-1] == "instance_completed"
    assert types.count("step_completed") == 2
    done = [e for e in events(engine, iid) if e.type == "step_completed"]
    assert {e.step: e.data["status"] for e in done} == {"a": "succeeded", "b": "succeeded"}
    assert [e.seq for e in events(engine, iid)] == list(range(1, len(types) + 1))


def test_when_false_skips_and_dependents_still_run(engine: WorkflowEngine,
                                                   tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t(flag: bool = false) -> (r: str) {
  step a when flag: shell "echo a"
  step b: shell "echo b"
  output r = a.stdout ?? "none"
}""")
    st = steps(engine, iid)
    assert st["a"]["status"] == "skipped"
    assert st["b"]["status"] == "succeeded"
    assert engine.status(iid).outputs == {"r": "none"}


def test_failure_cancels_dependents_and_fails_instance(engine: WorkflowEngine,
                                                       tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() {
  step a: shell "exit 3"
  step b: shell "echo never"
}""")
    info = engine.status(iid)
    assert info.status == "failed"
    assert info.steps["a"].status == "failed"
    assert info.steps["a"].outputs["exit_code"] == 3
    assert info.steps["b"].status == "cancelled"
    assert "a" in (info.error or "")


def test_continue_on_error_lets_dependents_run(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() -> (code: int) {
  step a: shell "exit 3" { continue_on_error }
  step b when not a.ok: shell "echo fixing"
  output code = a.exit_code
}""")
    info = engine.status(iid)
    assert info.status == "succeeded"
    assert info.steps["a"].status == "failed"
    assert info.steps["b"].status == "succeeded"
    assert info.outputs == {"code": 3}


def test_out_fields_see_the_steps_own_fields(engine: WorkflowEngine, tmp_path: Path) -> None:
    (tmp_path / "cov.json").write_text('{"coverage": 0.9}')
    iid = run(engine, tmp_path, """
flow t() -> (cov: float) {
  step unit: shell "cat cov.json" {
    out coverage: float = json(stdout).coverage ?? 0.0
  }
  output cov = unit.coverage
}""")
    assert engine.status(iid).outputs == {"cov": 0.9}


def test_set_and_ctx_values(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() -> (info: str) {
  var s: str = ""
  step a: set s = "{ctx.feature_id}/{ctx.automation}/{ctx.attempt}/{ctx.depth}"
  step b: shell "echo {ctx.instance_id}"
  output info = s + "|" + trim(b.stdout)
}""", feature_id="F-7", automation_level=100)
    out = engine.status(iid).outputs["info"]
    assert out == f"F-7/100/1/0|{iid}"


def test_risk_gate_pauses_below_level_and_approval_runs_it(engine: WorkflowEngine,
                                                           tmp_path: Path) -> None:
    src = """
flow t() {
  step low: shell "echo low" { risk 10 }
  step high: shell "echo high" { risk 70 }
}"""
    iid = run(engine, tmp_path, src, automation_level=60)
    info = engine.status(iid)
    assert info.status == "waiting_approval"
    assert info.steps["low"].status == "succeeded"
    assert info.steps["high"].status == "waiting_approval"
    assert info.steps["high"].attempts == 0  # paused *before* it ran
    engine.approve(iid, "high", by="ann")
    engine.resume(iid)
    assert engine.status(iid).status == "succeeded"
    types = [(e.type, e.step) for e in events(engine, iid)]
    assert ("step_waiting_approval", "high") in types
    assert ("step_approved", "high") in types
    # level 100 never pauses; level 0 pauses even risk 0
    iid100 = run(engine, tmp_path, src, automation_level=100)
    assert engine.status(iid100).status == "succeeded"
    iid0 = run(engine, tmp_path, src, automation_level=0)
    assert engine.status(iid0).steps["low"].status == "waiting_approval"


def test_approve_step_and_rejection(engine: WorkflowEngine, tmp_path: Path) -> None:
    src = """
flow t(id: str = "F") -> (merged: bool) {
  step review: approve "Merge {id}?"
  output merged = review.approved ?? false
}"""
    iid = run(engine, tmp_path, src, automation_level=99)
    assert engine.status(iid).status == "waiting_approval"
    waiting = [e for e in events(engine, iid) if e.type == "step_waiting_approval"]
    assert waiting[0].data["message"] == "Merge F?"
    engine.approve(iid, "review", by="ann", comment="lgtm")
    engine.resume(iid)
    info = engine.status(iid)
    assert info.status == "succeeded" and info.outputs == {"merged": True}
    assert info.steps["review"].outputs == {"approved": True, "by": "ann", "comment": "lgtm"}

    rid = run(engine, tmp_path, src, automation_level=50)
    engine.reject(rid, "review", by="bob", comment="no")
    engine.resume(rid)
    info = engine.status(rid)
    assert info.status == "failed"
    assert info.steps["review"].outputs["approved"] is False
    assert any(e.type == "step_rejected" for e in events(engine, rid))

    auto = run(engine, tmp_path, src, automation_level=100)
    assert engine.status(auto).outputs == {"merged": True}


def test_retry_backoff_doubles(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() {
  step flaky: shell "n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; test $n -ge 3" {
    retry 3 backoff 20ms
  }
}""")
    info = engine.status(iid)
    assert info.status == "succeeded"
    assert info.steps["flaky"].attempts == 3
    delays = [e.data["delay_ms"] for e in events(engine, iid) if e.type == "step_retrying"]
    assert delays == [20, 40]


def test_retry_exhausted_fails(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() {
  step bad: shell "exit 1" { retry 2 backoff 1ms }
}""")
    info = engine.status(iid)
    assert info.status == "failed" and info.steps["bad"].attempts == 3


def test_timeout_kills_and_fails(engine: WorkflowEngine, tmp_path: Path) -> None:
    t0 = time.monotonic()
    iid = run(engine, tmp_path, """
flow t() {
  step slow: shell "sleep 5" { timeout 300ms }
}""")
    assert time.monotonic() - t0 < 4
    info = engine.status(iid)
    assert info.status == "failed"
    assert "timed out" in (info.steps["slow"].error or "")


def test_fail_action_fails_instance(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t(x: int = 2) {
  step stop when x > 1: fail "x is {x}"
  step after_it: shell "echo no"
}""")
    info = engine.status(iid)
    assert info.status == "failed"
    assert info.error and "x is 2" in info.error
    assert info.steps["after_it"].status == "cancelled"


def test_group_absorbs_member_failure(engine: WorkflowEngine, tmp_path: Path) -> None:
    """A failed member makes the group `ok: false` but its dependents still
    run (they may read `GROUP.ok`); fail-fast cancels the unfinished
    siblings; the instance fails because a step's final record failed."""
    iid = run(engine, tmp_path, """
flow t() -> (checks_ok: bool) {
  parallel checks {
    step l: shell "exit 1"
    step u: shell "echo u"
    step k: shell "echo k" { continue_on_error }
  }
  step next: shell "echo n"
  step fix when not checks.ok: shell "echo fixing"
  output checks_ok = checks.ok
}""")
    info = engine.status(iid)
    assert info.steps["checks"].status == "failed"
    assert info.steps["checks"].outputs == {"ok": False}
    assert info.steps["l"].status == "failed"
    assert info.steps["u"].status == "cancelled"  # fail-fast: sibling of a failed member
    assert info.steps["k"].status == "succeeded"  # continue_on_error siblings go on
    assert info.steps["next"].status == "succeeded"
    assert info.steps["fix"].status == "succeeded"
    assert info.status == "failed"
    assert info.outputs == {"checks_ok": False}
    assert "`l`" in (info.error or "")


def test_failed_step_in_a_phase_cancels_its_dependents_only(engine: WorkflowEngine,
                                                            tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() {
  phase p {
    step a: shell "exit 2"
    step b: shell "echo b"
  }
  step c: shell "echo c"
}""")
    info = engine.status(iid)
    assert [info.steps[n].status for n in ("p", "a", "b", "c")] == \
        ["failed", "failed", "cancelled", "succeeded"]
    assert info.status == "failed"


def test_continue_on_error_failure_keeps_the_instance_succeeded(engine: WorkflowEngine,
                                                                tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() {
  parallel g {
    step a: shell "exit 2" { continue_on_error }
    step b: shell "echo b"
  }
}""")
    info = engine.status(iid)
    assert info.status == "succeeded"
    assert info.steps["g"].outputs == {"ok": True}
    assert info.steps["b"].status == "succeeded"


FAKE_AGENT = """\
import json, sys
req = json.load(sys.stdin)
print(json.dumps({"text": "done: " + req["prompt"][:20], "tokens": 10}))
"""


def test_language_example_failing_tests_run_fix(store_url: str, tmp_path: Path,  # noqa: F811
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/language.md §1 when the unit tests fail: `checks` is not ok, `review`
    is skipped, `fix` (a call to std bugfix) RUNS, and the instance fails
    because `unit` failed."""
    import shutil
    import stat

    from chatflow.runtime.config import load_config

    root = Path(__file__).resolve().parents[2]
    shutil.copy(root / "examples" / "feature.flow", tmp_path / "feature.flow")
    (tmp_path / ".chatflow").mkdir()
    (tmp_path / ".chatflow" / "config.yaml").write_text(
        f'agents:\n  chatcoder:\n    command: "{sys.executable} fake_agent.py"\n')
    (tmp_path / "fake_agent.py").write_text(FAKE_AGENT)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tools = {"make": "#!/bin/sh\nexit 0\n",
             "pytest": "#!/bin/sh\necho '2 failed'\nexit 1\n",   # the feature's tests fail
             "ruff": "#!/bin/sh\necho ok\n",
             "python": "#!/bin/sh\necho '3 passed'\n"}           # bugfix's test run passes
    for name, text in tools.items():
        p = bindir / name
        p.write_text(text)
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    store = open_store(store_url)
    eng = WorkflowEngine(store, workdir=str(tmp_path),
                         config=load_config(tmp_path / ".chatflow" / "config.yaml"))
    try:
        iid = eng.start_workflow_instance(str(tmp_path / "feature.flow"),
                                          inputs={"feature_id": "F-9"},
                                          automation_level=100).instance_id
        eng.run_until_blocked(iid)
        info = eng.status(iid)
        st = {n: s.status for n, s in info.steps.items()}
        assert st["unit"] == "failed"
        assert st["checks"] == "failed" and info.steps["checks"].outputs["ok"] is False
        assert st["review"] == "skipped"
        assert st["fix"] == "succeeded", info.steps["fix"]
        assert info.steps["fix"].outputs["fixed"] is True
        assert info.status == "failed"
        assert info.outputs == {"merged": False}
        child = eng.state(iid).children[0]
        assert eng.status(child).status == "succeeded"
    finally:
        store.close()


def test_skipped_group_skips_members(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t(go: bool = false) {
  phase p when go {
    step a: shell "echo a"
    step b: shell "echo b"
  }
  step c: shell "echo c"
}""")
    st = steps(engine, iid)
    assert [st[n]["status"] for n in ("p", "a", "b", "c")] == \
        ["skipped", "skipped", "skipped", "succeeded"]


def test_repeat_until_succeeds_on_third_iteration(engine: WorkflowEngine,
                                                  tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() -> (its: int) {
  var n: int = 0
  repeat loop max 5 until n >= 3 {
    step inc: set n = n + 1
  }
  output its = loop.iterations
}""")
    info = engine.status(iid)
    assert info.status == "succeeded"
    assert info.outputs == {"its": 3}
    assert info.steps["loop"].outputs == {"ok": True, "iterations": 3}
    state = engine.state(iid)
    assert len(state.step_results["inc"]["iterations"]) == 2  # earlier rounds kept



def test_call_runs_a_child_instance(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow child(x: int) -> (y: int) {
  step s: shell "echo {x}"
  output y = int(trim(s.stdout)) * 2
}
flow t() -> (r: int) {
  step c: call child(x: 21)
  output r = c.y
}""", feature_id="F")
    info = engine.status(iid)
    assert info.status == "succeeded", info.error
    assert info.outputs == {"r": 42}
    state = engine.state(iid)
    assert len(state.children) == 1
    child = engine.status(state.children[0])
    assert child.parent_instance_id == iid and child.depth == 1 and child.feature_id == "F"



def test_cancel_stops_an_instance(engine: WorkflowEngine, tmp_path: Path) -> None:
    ir = compile_src(tmp_path, """
flow t() {
  step a: shell "echo a" { risk 90 }
  step b: shell "echo b"
}""")
    iid = engine.start_workflow_instance(ir, automation_level=50).instance_id
    engine.run_until_blocked(iid)
    info = engine.cancel(iid)
    assert info.status == "cancelled"
    assert info.steps["a"].status == "cancelled" and info.steps["b"].status == "cancelled"


def test_interrupted_step_with_retry_is_rerun(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = _interrupted(engine, tmp_path, 'shell "echo again >> log" { retry 1 }', level=50)
    engine.resume(iid)
    info = engine.status(iid)
    assert info.status == "succeeded"
    assert (tmp_path / "log").read_text().count("again") == 1
    assert any(e.type == "step_interrupted" and e.data["action"] == "rerun"
               for e in events(engine, iid))


def test_interrupted_step_without_retry_is_held_in_doubt(engine: WorkflowEngine,
                                                         tmp_path: Path) -> None:
    iid = _interrupted(engine, tmp_path, 'shell "echo again >> log"', level=50)
    engine.resume(iid)
    info = engine.status(iid)
    assert info.status == "waiting_approval"
    assert info.steps["s"].in_doubt
    assert not (tmp_path / "log").exists()
    engine.approve(iid, "s", by="ann")
    engine.resume(iid)
    assert engine.status(iid).status == "succeeded"
    # at automation 100 an in-doubt step is re-run without asking
    iid100 = _interrupted(engine, tmp_path, 'shell "echo x"', level=100)
    engine.resume(iid100)
    assert engine.status(iid100).status == "succeeded"


def _interrupted(engine: WorkflowEngine, tmp: Path, action: str, level: int) -> str:
    """An instance whose step `s` was claimed by a process that died."""
    ir = compile_src(tmp, f"flow t() {{\n  step s: {action}\n}}\n")
    iid = engine.start_workflow_instance(ir, automation_level=level).instance_id
    store = engine.engine.store
    import socket

    dead = f"{socket.gethostname()}:999999:dead"
    with store.lock(iid):
        st = store.load_status(iid)
        with store.transaction(iid, expected_rev=st.rev) as tx:
            tx.put_step(StepRecord("s", "running", attempts=1, owner=dead,
                                   lease_until=time.time() + 3600))
            tx.append("step_started", step="s", data={"attempt": 1, "owner": dead})
            tx.set_status(current_steps=["s"])
    return iid


def test_concurrent_drivers_run_each_step_once(engine: WorkflowEngine, tmp_path: Path) -> None:
    body = "\n".join(f'  step s{i}: shell "echo s{i} >> log"' for i in range(6))
    ir = compile_src(tmp_path, f"flow t() {{\n{body}\n}}\n")
    iid = engine.start_workflow_instance(ir).instance_id
    threads = [threading.Thread(target=engine.resume, args=(iid,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert engine.status(iid).status == "succeeded"
    lines = (tmp_path / "log").read_text().split()
    assert sorted(lines) == sorted(f"s{i}" for i in range(6))


def test_trigger_next_step_runs_one_step(engine: WorkflowEngine, tmp_path: Path) -> None:
    ir = compile_src(tmp_path, """
flow t() {
  step a: shell "echo a"
  step b: shell "echo b"
}""")
    iid = engine.start_workflow_instance(ir).instance_id
    r = engine.trigger_next_step(iid)
    assert r.ran == ["a"] and r.status == "running"
    plan = engine.trigger_next_step(iid, dry_run=True)
    assert plan.plan and plan.plan[0]["step"] == "b" and plan.plan[0]["command"] == "echo b"
    assert engine.status(iid).steps["b"].status == "pending"
    r = engine.trigger_next_step(iid)
    assert r.ran == ["b"] and r.status == "succeeded"


def test_status_object_shape(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, 'flow t() -> (x: int) {\n step a: shell "true"\n'
                                ' output x = 1\n}', feature_id="F-1")
    d = engine.status(iid).to_dict()
    for key in ("instance_id", "flow", "status", "progress", "feature_id", "outputs", "steps"):
        assert key in d
    assert d["steps"]["a"].keys() >= {"status", "attempts", "outputs"}
    json.dumps(d)
    feat = engine.get_feature_status("F-1")
    assert feat["status"] == "succeeded" and feat["instances"][0]["instance_id"] == iid


def test_unknown_input_and_missing_input_are_usage_errors(engine: WorkflowEngine,
                                                          tmp_path: Path) -> None:
    from chatflow.diagnostics import ChatflowError

    ir = compile_src(tmp_path, 'flow t(a: int) {\n step s: shell "true"\n}')
    with pytest.raises(ChatflowError) as e1:
        engine.start_workflow_instance(ir)
    assert isinstance(e1.value, UsageError) and "missing" in e1.value.message
    with pytest.raises(ChatflowError) as e2:
        engine.start_workflow_instance(ir, inputs={"a": 1, "b": 2})
    assert isinstance(e2.value, UsageError)
    with pytest.raises(ChatflowError):
        engine.start_workflow_instance(ir, inputs={"a": "x"})


def test_step_output_files_are_kept_as_artifacts(engine: WorkflowEngine,
                                                 tmp_path: Path) -> None:
    iid = run(engine, tmp_path, 'flow t() {\n  step a: shell "echo out; echo err >&2"\n}\n')
    arts = engine.get_task_artifacts(iid, "a")
    names = {a["name"] for a in arts}
    assert names, arts
    assert any("stdout" in n for n in names)
    assert engine.status(iid).steps["a"].outputs["stderr"].strip() == "err"


def test_call_waits_for_an_approval_in_the_child(engine: WorkflowEngine,
                                                 tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow child() -> (ok2: bool) {
  step gate: approve "go?"
  output ok2 = gate.approved ?? false
}
flow t() -> (r: bool) {
  step c: call child()
  output r = c.ok2
}""", automation_level=50)
    info = engine.status(iid)
    assert info.status == "waiting_approval"
    assert info.steps["c"].status == "waiting_approval"
    child = engine.state(iid).children[0]
    assert engine.status(child).steps["gate"].status == "waiting_approval"
    engine.approve(child, "gate", by="ann")
    engine.resume(iid)
    info = engine.status(iid)
    assert info.status == "succeeded", info.error
    assert info.outputs == {"r": True}
    assert engine.status(child).status == "succeeded"


# ---------------------------------------------------------------------------- issue 4


def test_repeat_with_failing_body_succeeds_on_third_iteration(engine: WorkflowEngine,
                                                              tmp_path: Path) -> None:
    """A failure in the body ends only that iteration; each iteration's
    result is kept and addressable (state and status JSON)."""
    iid = run(engine, tmp_path, """
flow t() -> (rounds: int) {
  repeat loop max 5 until test.ok {
    step test: shell "n=$(cat n || echo 0); n=$((n+1)); echo $n > n; echo try$n; test $n -ge 3"
  }
  output rounds = loop.iterations
}""")
    info = engine.status(iid)
    assert info.status == "succeeded", info.error
    assert info.outputs == {"rounds": 3}
    assert info.steps["loop"].outputs == {"ok": True, "iterations": 3}
    its = engine.state(iid).steps["test"].iterations
    assert [i["status"] for i in its] == ["failed", "failed", "succeeded"]
    assert [i["iteration"] for i in its] == [1, 2, 3]
    assert its[0]["outputs"]["stdout"].strip() == "try1"
    assert its[2]["outputs"]["exit_code"] == 0
    as_json = info.to_dict()["steps"]["test"]["iterations"]
    assert [i["outputs"]["stdout"].strip() for i in as_json] == ["try1", "try2", "try3"]
    done = [e.data.get("iteration") for e in events(engine, iid)
            if e.type == "step_completed" and e.step == "test"]
    assert done == [1, 2, 3]


def test_repeat_running_out_at_max_fails_with_every_iteration_kept(engine: WorkflowEngine,
                                                                   tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() -> (ok: bool) {
  repeat loop max 3 until test.ok {
    step test: shell "exit 1"
  }
  step after_loop: shell "echo still runs"
  output ok = loop.ok
}""")
    info = engine.status(iid)
    assert info.status == "failed"
    assert info.steps["loop"].status == "failed"
    assert info.steps["loop"].outputs == {"ok": False, "iterations": 3}
    assert info.steps["after_loop"].status == "succeeded"  # the group absorbed it
    assert info.outputs == {"ok": False}
    assert len(engine.state(iid).steps["test"].iterations) == 3


@pytest.mark.parametrize("parallelism", ["concurrent", "parallel"])
def test_parallel_group_members_overlap_within_max(engine: WorkflowEngine, tmp_path: Path,
                                                   parallelism: str) -> None:
    # Each member appends `+` when it starts and `-` when it ends: the log
    # shows how many ran at once, whatever the machine's load (no timing).
    members = "\n".join(f'    step s{i}: shell "echo + >> LOG; sleep 0.5; echo - >> LOG"'
                        for i in range(4))
    src = (f'flow t() {{\n  parallelism "{parallelism}"\n'
           f'  parallel g max MAX {{\n{members}\n  }}\n}}')
    iid = run(engine, tmp_path, src.replace("MAX", "4").replace("LOG", "wide"))
    assert engine.status(iid).status == "succeeded"
    assert _most_at_once(tmp_path / "wide") == 4
    iid = run(engine, tmp_path, src.replace("MAX", "2").replace("LOG", "narrow"))
    assert engine.status(iid).status == "succeeded"
    assert _most_at_once(tmp_path / "narrow") == 2  # two rounds of two
    starts = [e.ts for e in events(engine, iid) if e.type == "step_started"]
    assert len(starts) == 4


def _most_at_once(log: Path) -> int:
    """Most steps running at once, from the `+`/`-` lines they appended."""
    marks = log.read_text(encoding="utf-8").split()
    assert marks.count("+") == marks.count("-") == 4, marks
    running = peak = 0
    for mark in marks:
        running += 1 if mark == "+" else -1
        peak = max(peak, running)
    return peak


def test_sequential_runs_independent_steps_in_source_order(engine: WorkflowEngine,
                                                           tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() {
  parallel g {
    step b: shell "echo b >> log"
    step a: shell "echo a >> log"
  }
}""")
    assert engine.status(iid).status == "succeeded"
    assert (tmp_path / "log").read_text().split() == ["b", "a"]


@pytest.mark.parametrize("parallelism", ["concurrent", "parallel"])
def test_fail_fast_kills_running_siblings(engine: WorkflowEngine, tmp_path: Path,
                                          parallelism: str) -> None:
    t0 = time.monotonic()
    iid = run(engine, tmp_path, f"""
flow t() {{
  parallelism "{parallelism}"
  parallel g {{
    step slow: shell "sleep 20; echo slow >> log"
    step keep: shell "sleep 0.6; echo keep >> log" {{ continue_on_error }}
    step bad: shell "sleep 0.2; exit 1"
  }}
  step next: shell "echo next >> log"
}}""")
    assert time.monotonic() - t0 < 8
    info = engine.status(iid)
    assert info.steps["bad"].status == "failed"
    assert info.steps["slow"].status == "cancelled"
    assert info.steps["keep"].status == "succeeded"
    assert info.steps["next"].status == "succeeded"
    assert info.status == "failed"
    assert sorted((tmp_path / "log").read_text().split()) == ["keep", "next"]


def test_parallel_calls_fan_out_children_at_once(engine: WorkflowEngine,
                                                 tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow child(x: int) -> (y: int) {
  step s: shell "echo + >> log; sleep 0.5; echo - >> log; echo {x}"
  output y = int(trim(s.stdout))
}
flow t() -> (sum: int) {
  parallelism "concurrent"
  parallel fan {
    step a: call child(x: 1)
    step b: call child(x: 2)
    step c: call child(x: 3)
  }
  output sum = a.y + b.y + c.y
}""")
    marks = (tmp_path / "log").read_text().split()
    assert marks[:3] == ["+", "+", "+"], marks  # all three children ran at once
    info = engine.status(iid)
    assert info.status == "succeeded" and info.outputs == {"sum": 6}
    kids = engine.state(iid).children
    assert len(kids) == 3
    assert {engine.status(k).parent_instance_id for k in kids} == {iid}


def test_cancel_parent_kills_running_children(engine: WorkflowEngine, tmp_path: Path) -> None:
    ir = compile_src(tmp_path, """
flow child() {
  step s: shell "sleep 30; echo late >> log"
}
flow t() {
  step c: call child()
}""")
    iid = engine.start_workflow_instance(ir).instance_id
    th = threading.Thread(target=engine.run_until_blocked, args=(iid,))
    th.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        kids = engine.state(iid).children
        if kids and engine.engine.store.exists(kids[0]) \
                and engine.status(kids[0]).steps["s"].status == "running":
            break
        time.sleep(0.05)
    t0 = time.monotonic()
    engine.cancel(iid)
    th.join(20)
    assert not th.is_alive() and time.monotonic() - t0 < 10
    child = engine.state(iid).children[0]
    assert engine.status(iid).status == "cancelled"
    assert engine.status(child).status == "cancelled"
    assert engine.status(child).steps["s"].status == "cancelled"
    assert not (tmp_path / "log").exists()


def test_max_depth_in_config_overrides_the_flow(store_url: str, tmp_path: Path,  # noqa: F811
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from chatflow.runtime.config import Config

    monkeypatch.chdir(tmp_path)
    store = open_store(store_url)
    eng = WorkflowEngine(store, workdir=str(tmp_path), config=Config(max_depth=1))
    try:
        iid = run(eng, tmp_path, """
flow t(n: int = 0) -> (d: int) {
  max_depth 5
  step r when n < 3: call t(n: n + 1)
  output d = r.d ?? n
}""")
        assert eng.status(iid).status == "failed"
        ev = [e for i in eng.list_instances() for e in eng.history(i["instance_id"])
              if e.type == "max_depth_exceeded"]
        assert len(ev) == 1
        assert ev[0].data["limit"] == 1 and ev[0].data["depth"] == 2
    finally:
        store.close()


class _Spender:
    def run(self, request: Any, ctx: Any) -> Any:
        from chatflow.runtime.actions.agent import AgentResponse

        return AgentResponse("ok", 400)


def test_grandchild_crossing_a_quota_stops_the_tree(engine: WorkflowEngine,
                                                    tmp_path: Path) -> None:
    from chatflow.runtime.actions.agent import register_agent, unregister_agent

    register_agent("spend400", _Spender)
    try:
        iid = run(engine, tmp_path, """
flow leaf() {
  step x1: agent "spend400" { prompt "1" }
  step x2: agent "spend400" { prompt "2" }
  step x3: agent "spend400" { prompt "3" }
  step x4: agent "spend400" { prompt "4" }
}
flow mid() {
  step g: call leaf()
}
flow t() {
  quota tokens 1_000
  step c: call mid()
  step later: shell "echo never >> log"
}""")
    finally:
        unregister_agent("spend400")
    mid = engine.state(iid).children[0]
    leaf = engine.state(mid).children[0]
    assert [engine.status(i).status for i in (iid, mid, leaf)] == ["failed"] * 3
    assert engine.status(leaf).steps["x3"].status == "succeeded"  # it crossed the quota
    assert engine.status(leaf).steps["x4"].status == "cancelled"
    ev = [e for e in events(engine, iid) if e.type == "quota_exceeded"]
    assert len(ev) == 1
    assert ev[0].data["quota"] == "tokens" and ev[0].data["limit"] == 1000
    assert ev[0].data["spent"] == 1200
    q = engine.status(iid).to_dict()["quota"]
    assert q["tokens"] == {"limit": 1000, "spent": 1200}
    assert engine.state(iid).spent_tree["steps"] >= 3
    done = [e for e in engine.history(leaf) if e.type == "step_completed"
            and e.data.get("status") == "succeeded"]
    assert all(e.data["spent"]["tokens"] == 400 for e in done)
    assert not (tmp_path / "log").exists()


def test_create_subworkflow_links_parent_and_child(engine: WorkflowEngine,
                                                   tmp_path: Path) -> None:
    parent = run(engine, tmp_path, 'flow t() {\n  step a: shell "true"\n}', feature_id="F-2")
    ir = compile_src(tmp_path, 'flow c(x: int) -> (y: int) {\n  output y = x + 1\n}', "c.flow")
    child = engine.create_subworkflow(parent, ir, {"x": 4})
    assert child.parent_instance_id == parent and child.depth == 1
    engine.run_until_blocked(child.instance_id)
    st = engine.state(child.instance_id)
    assert st.parent_instance_id == parent and st.recursion_depth == 1
    assert engine.state(parent).children == [child.instance_id]
    assert engine.status(child.instance_id).outputs == {"y": 5}
    assert engine.status(child.instance_id).feature_id == "F-2"
