"""Issue 4 end to end through `WorkflowEngine`, on every state-store backend:
sub-flows and recursion, cancelling a tree, quotas shared down the tree,
bounded `repeat` loops, parallel groups, and the `status --tree` view.

Each test compiles a small multi-flow `.flow` source and runs it on a fresh
store of the parametrized backend (tests/backends.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import backend, store_url  # noqa: F401  (fixtures)
from chatflow.compiler.api import compile_path
from chatflow.runtime.actions.agent import AgentResponse, register_agent, unregister_agent
from chatflow.runtime.api import WorkflowEngine
from chatflow.runtime.store import open_store
from chatflow.runtime.views import status_with_quota


@pytest.fixture()
def engine(store_url: str, tmp_path: Path,  # noqa: F811
           monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkflowEngine]:
    monkeypatch.chdir(tmp_path)
    store = open_store(store_url)
    eng = WorkflowEngine(store, workdir=str(tmp_path))
    yield eng
    store.close()


def compile_src(tmp: Path, src: str, flow: str | None = None) -> dict[str, Any]:
    p = tmp / "t.flow"
    p.write_text(src, encoding="utf-8")
    res = compile_path(str(p), flow)
    assert res.ir is not None, [d.message for d in res.diagnostics]
    return res.ir


def start(engine: WorkflowEngine, tmp: Path, src: str, **kw: Any) -> str:
    return engine.start_workflow_instance(compile_src(tmp, src, "t"), **kw).instance_id


def run(engine: WorkflowEngine, tmp: Path, src: str, **kw: Any) -> str:
    iid = start(engine, tmp, src, **kw)
    engine.run_until_blocked(iid)
    return iid


def children(engine: WorkflowEngine, iid: str) -> list[str]:
    """The instance's children that exist (a call step records its child's
    id when it is claimed, just before the child is started)."""
    return [c for c in engine.state(iid).children if engine.store.exists(c)]


def tree_ids(engine: WorkflowEngine, root: str) -> list[str]:
    """The root and every descendant, parents first."""
    out, todo = [], [root]
    while todo:
        iid = todo.pop(0)
        out.append(iid)
        todo.extend(children(engine, iid))
    return out


def events_of(engine: WorkflowEngine, iid: str, etype: str) -> list[Any]:
    return [e for e in engine.history(iid) if e.type == etype]


def wait_for(pred: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for a condition")


# ---------------------------------------------------------------------------- sub-flows


def test_call_passes_arguments_and_returns_declared_outputs(engine: WorkflowEngine,
                                                            tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() -> (got: str) {
  step c: call echo(word: "hi")
  output got = c.said
}
flow echo(word: str) -> (said: str) {
  step e: shell "echo {word}"
  output said = trim(e.stdout)
}""", feature_id="F-9")
    info = engine.status(iid)
    assert info.status == "succeeded"
    assert info.outputs == {"got": "hi"}
    assert info.steps["c"].outputs["ok"] is True
    kids = children(engine, iid)
    assert len(kids) == 1
    child = engine.status(kids[0])
    assert child.parent_instance_id == iid and child.depth == 1
    assert child.feature_id == "F-9" and child.flow == "echo"
    cst = engine.state(kids[0])
    assert cst.parent_instance_id == iid and cst.recursion_depth == 1
    # the child has its own history
    assert next(e.type for e in engine.history(child.instance_id)) == "instance_started"


def test_recursion_stops_at_max_depth(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t(n: int = 0) -> (deepest: int) {
  max_depth 2
  step r: call t(n: n + 1)
  output deepest = r.deepest
}""")
    ids = tree_ids(engine, iid)
    assert [engine.status(i).depth for i in ids] == [0, 1, 2]
    assert all(engine.status(i).status == "failed" for i in ids)
    deepest = ids[-1]
    ev = events_of(engine, deepest, "max_depth_exceeded")
    assert len(ev) == 1 and ev[0].step == "r"
    assert "max_depth 2" in ev[0].data["error"]
    assert engine.status(deepest).steps["r"].status == "failed"
    assert not children(engine, deepest)  # no instance at depth 3


def test_recursion_that_ends_by_itself_succeeds(engine: WorkflowEngine,
                                                tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t(n: int = 3) -> (total: int) {
  step r when n > 0: call t(n: n - 1)
  output total = n + (r.total ?? 0)
}""")
    assert engine.status(iid).outputs == {"total": 6}
    assert len(tree_ids(engine, iid)) == 4


def test_a_failing_child_fails_the_call_step(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() {
  step c: call bad()
  step later: shell "echo never"
}
flow bad() {
  step x: shell "exit 4"
}""")
    info = engine.status(iid)
    assert info.status == "failed"
    assert info.steps["c"].status == "failed"
    assert info.steps["later"].status == "cancelled"
    child = children(engine, iid)[0]
    assert engine.status(child).status == "failed"
    assert child in (info.steps["c"].error or "")


def test_continue_on_error_keeps_a_failed_child_local(engine: WorkflowEngine,
                                                      tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() -> (child_ok: bool) {
  step c: call bad() { continue_on_error }
  step later: shell "echo still"
  output child_ok = c.ok
}
flow bad() {
  step x: shell "exit 4"
}""")
    info = engine.status(iid)
    assert info.status == "succeeded"
    assert info.outputs == {"child_ok": False}
    assert info.steps["later"].status == "succeeded"


def test_cancelling_a_parent_cancels_running_children(engine: WorkflowEngine,
                                                      tmp_path: Path) -> None:
    iid = start(engine, tmp_path, """
flow t() {
  step c: call slow()
}
flow slow() {
  step s: shell "sleep 30"
}""")
    driver = threading.Thread(target=engine.run_until_blocked, args=(iid,), daemon=True)
    t0 = time.monotonic()
    driver.start()

    def child_running() -> bool:
        kids = children(engine, iid)
        return bool(kids) and engine.status(kids[0]).steps["s"].status == "running"

    wait_for(child_running)
    child = children(engine, iid)[0]
    engine.cancel(iid)
    driver.join(timeout=15)
    assert not driver.is_alive(), "the driver did not stop after cancel"
    assert time.monotonic() - t0 < 20  # the sleep was killed, not waited for
    assert engine.status(iid).status == "cancelled"
    assert engine.status(child).status == "cancelled"
    assert engine.status(child).steps["s"].status in ("cancelled", "failed")
    assert not events_of(engine, child, "step_completed") or all(
        e.data["status"] != "succeeded" for e in events_of(engine, child, "step_completed"))


# ---------------------------------------------------------------------------- quotas


class Spender:
    """A test agent that reports a fixed number of tokens per answer."""

    def __init__(self, tokens: int = 600) -> None:
        self.tokens = tokens

    def run(self, request: Any, ctx: Any) -> AgentResponse:
        return AgentResponse(f"spent on {request.step}", self.tokens)


@pytest.fixture()
def spender() -> Iterator[str]:
    register_agent("spender_t", lambda: Spender(600))
    yield "spender_t"
    unregister_agent("spender_t")


def test_a_childs_spending_counts_against_the_parent_quota(engine: WorkflowEngine,
                                                          tmp_path: Path,
                                                          spender: str) -> None:
    iid = run(engine, tmp_path, """
flow t() {
  quota tokens 10_000, steps 100
  step c: call sub()
}
flow sub() {
  step a: agent "spender_t" { prompt "go" }
}""")
    assert engine.status(iid).status == "succeeded"
    q = status_with_quota(engine, iid)["quota"]
    assert q["tokens"] == {"limit": 10_000, "spent": 600}
    assert q["steps"]["limit"] == 100 and q["steps"]["spent"] >= 2  # c and a


def test_a_quota_crossed_by_a_grandchild_stops_the_whole_tree(engine: WorkflowEngine,
                                                              tmp_path: Path,
                                                              spender: str) -> None:
    iid = run(engine, tmp_path, """
flow t() {
  quota tokens 1_000
  step c: call mid()
  step after_c: shell "echo never"
}
flow mid() {
  step g: call leaf()
}
flow leaf() {
  step a1: agent "spender_t" { prompt "one" }
  step a2: agent "spender_t" { prompt "two" }
  step a3: agent "spender_t" { prompt "three" }
}""")
    ids = tree_ids(engine, iid)
    assert len(ids) == 3
    assert [engine.status(i).status for i in ids] == ["failed", "failed", "failed"]
    leaf = engine.status(ids[2])
    assert leaf.steps["a1"].status == "succeeded"
    assert leaf.steps["a3"].status in ("cancelled", "pending", "skipped")
    assert engine.status(iid).steps["after_c"].status == "cancelled"
    found = [e for i in ids for e in events_of(engine, i, "quota_exceeded")]
    assert found, "no quota_exceeded event in the tree"
    data = found[0].data
    assert data["quota"] == "tokens"
    assert data["limit"] == 1_000
    assert data["spent"] == 1_200
    assert status_with_quota(engine, iid)["quota"]["tokens"] == {"limit": 1_000,
                                                                 "spent": 1_200}


def test_a_steps_quota_stops_the_instance(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() {
  quota steps 2
  step a: shell "echo 1"
  step b: shell "echo 2"
  step c: shell "echo 3"
  step d: shell "echo 4"
}""")
    info = engine.status(iid)
    assert info.status == "failed"
    assert info.steps["d"].status != "succeeded"
    ev = events_of(engine, iid, "quota_exceeded")
    assert len(ev) == 1
    assert ev[0].data["quota"] == "steps" and ev[0].data["limit"] == 2
    assert "quota `steps` exceeded" in (info.error or ev[0].data.get("message", ""))


# ---------------------------------------------------------------------------- repeat


def test_repeat_succeeds_on_its_third_iteration(engine: WorkflowEngine,
                                                tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() -> (rounds: int, ok: bool, count: int) {
  var count: int = 0
  repeat loop max 5 until check.ok {
    step bump: set count = count + 1
    step check: shell "test {count} -ge 3" { continue_on_error }
  }
  output rounds = loop.iterations
  output ok = loop.ok
  output count = count
}""")
    info = engine.status(iid)
    assert info.status == "succeeded"
    assert info.outputs == {"rounds": 3, "ok": True, "count": 3}
    done = [e.data["status"] for e in events_of(engine, iid, "step_completed")
            if e.step == "check"]
    assert done == ["failed", "failed", "succeeded"]
    rec = engine.state(iid).step_results["check"]
    assert [r["status"] for r in rec["iterations"]][:2] == ["failed", "failed"]
    assert rec["iterations"][0]["outputs"]["exit_code"] == 1
    assert rec["status"] == "succeeded"


def test_repeat_runs_out_at_max(engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() {
  repeat loop max 3 until check.ok {
    step check: shell "exit 1" { continue_on_error }
  }
}""")
    info = engine.status(iid)
    assert info.status == "failed"
    assert info.steps["loop"].status == "failed"
    assert info.steps["loop"].outputs == {"ok": False, "iterations": 3}
    assert "3" in (info.steps["loop"].error or "")
    assert len([e for e in events_of(engine, iid, "step_completed")
                if e.step == "check"]) == 3


# ---------------------------------------------------------------------------- parallel


def overlap(log: Path) -> int:
    """Most steps running at once, from `+`/`-` lines the steps appended."""
    running = peak = 0
    for line in log.read_text(encoding="utf-8").split():
        running += 1 if line == "+" else -1
        peak = max(peak, running)
    return peak


@pytest.mark.parametrize("parallelism", ["concurrent", "parallel"])
def test_parallel_max_2_runs_two_at_a_time(engine: WorkflowEngine, tmp_path: Path,
                                           parallelism: str) -> None:
    members = "\n".join(
        f'    step s{i}: shell "echo + >> log; sleep 0.4; echo - >> log"' for i in range(4))
    src = f"""
flow t() {{
  parallelism "{parallelism}"
  parallel g max 2 {{
{members}
  }}
}}"""
    iid = run(engine, tmp_path, src)
    assert engine.status(iid).status == "succeeded"
    assert overlap(tmp_path / "log") == 2  # counted from the log, not timed


@pytest.mark.parametrize("parallelism", ["concurrent", "parallel"])
def test_independent_steps_of_a_group_overlap(engine: WorkflowEngine, tmp_path: Path,
                                              parallelism: str) -> None:
    members = "\n".join(
        f'    step s{i}: shell "echo + >> log; sleep 0.8; echo - >> log"' for i in range(4))
    iid = run(engine, tmp_path, f"""
flow t() {{
  parallelism "{parallelism}"
  parallel g max 4 {{
{members}
  }}
}}""")
    assert engine.status(iid).status == "succeeded"
    assert overlap(tmp_path / "log") == 4


def test_sequential_runs_one_at_a_time(engine: WorkflowEngine, tmp_path: Path) -> None:
    members = "\n".join(
        f'    step s{i}: shell "echo + >> log; sleep 0.05; echo - >> log"' for i in range(4))
    iid = run(engine, tmp_path, f"""
flow t() {{
  parallelism "sequential"
  parallel g max 4 {{
{members}
  }}
}}""")
    assert engine.status(iid).status == "succeeded"
    assert overlap(tmp_path / "log") == 1


def test_a_failing_member_cancels_its_running_siblings(engine: WorkflowEngine,
                                                       tmp_path: Path) -> None:
    t0 = time.monotonic()
    iid = run(engine, tmp_path, """
flow t() {
  parallelism "concurrent"
  parallel g {
    step bad: shell "sleep 0.3; exit 2"
    step slow: shell "sleep 30"
    step tolerant: shell "sleep 1" { continue_on_error }
  }
}""")
    assert time.monotonic() - t0 < 15, "the running sibling was not killed"
    info = engine.status(iid)
    assert info.status == "failed"
    assert info.steps["bad"].status == "failed"
    assert info.steps["slow"].status in ("cancelled", "failed")
    assert info.steps["tolerant"].status == "succeeded"


def test_parallel_calls_run_their_children_at_the_same_time(engine: WorkflowEngine,
                                                            tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() {
  parallelism "concurrent"
  parallel g max 3 {
    step a: call nap()
    step b: call nap()
    step c: call nap()
  }
}
flow nap() {
  step z: shell "echo + >> log; sleep 1; echo - >> log"
}""")
    assert engine.status(iid).status == "succeeded"
    assert len(children(engine, iid)) == 3
    assert overlap(tmp_path / "log") == 3  # all three at once (from the log, not timed)


# ---------------------------------------------------------------------------- status --tree


def test_instance_tree_nests_children_with_their_call_steps(engine: WorkflowEngine,
                                                            tmp_path: Path,
                                                            spender: str) -> None:
    iid = run(engine, tmp_path, """
flow t() {
  quota tokens 5_000
  step first: call mid()
  step second: call leaf()
}
flow mid() {
  step inner: call leaf()
}
flow leaf() {
  step a: agent "spender_t" { prompt "x" }
}""")
    root = engine.instance_tree(iid).to_dict()
    assert root["instance_id"] == iid and root["step"] is None
    assert root["status"] == "succeeded" and root["progress"] == 1.0
    assert root["quota"]["tokens"] == {"limit": 5_000, "spent": 1_200}
    kids = root["children"]
    assert [(k["step"], k["flow"], k["depth"]) for k in kids] == [
        ("first", "mid", 1), ("second", "leaf", 1)]
    assert [(g["step"], g["flow"], g["depth"]) for g in kids[0]["children"]] == [
        ("inner", "leaf", 2)]
    assert kids[1]["children"] == [] and "quota" not in kids[1]
