"""Issue 7 item 8: a declared output is bound only to a value of its declared
type, never to null in its place.

A succeeded instance binds every output (an output that cannot be evaluated
to its type fails the instance). A failed or cancelled instance binds the
outputs that evaluate to their type against the state it ended in and leaves
the others out, each with why (`output_errors`). At a call site, the callee's
outputs of a `continue_on_error` call are `T?` (a failed child may not have
them). Engine tests run on every state-store backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import backend, store_url  # noqa: F401  (fixtures)
from chatflow.compiler.api import compile_path
from chatflow.runtime.api import WorkflowEngine
from chatflow.runtime.store import open_store


@pytest.fixture()
def engine(store_url: str, tmp_path: Path,  # noqa: F811
           monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkflowEngine]:
    monkeypatch.chdir(tmp_path)
    store = open_store(store_url)
    eng = WorkflowEngine(store, workdir=str(tmp_path))
    yield eng
    store.close()


def compile_src(tmp: Path, src: str) -> Any:
    p = tmp / "t.flow"
    p.write_text(src, encoding="utf-8")
    return compile_path(str(p), "t")


def run(engine: WorkflowEngine, tmp: Path, src: str, **kw: Any) -> str:
    res = compile_src(tmp, src)
    assert res.ir is not None, [d.message for d in res.diagnostics]
    iid = engine.start_workflow_instance(res.ir, **kw).instance_id
    engine.run_until_blocked(iid)
    return iid


def completed(engine: WorkflowEngine, iid: str) -> dict[str, Any]:
    [ev] = [e for e in engine.history(iid) if e.type == "instance_completed"]
    return ev.data


def test_a_failed_instance_leaves_out_an_output_whose_step_never_ran(
        engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() -> (built: bool, n: int, why: str) {
  step a: shell "exit 1"
  step b: shell "echo 5"
  output built = b.ok
  output n = 3
  output why = a.stderr
}""")
    info = engine.status(iid)
    assert info.status == "failed"
    assert info.steps["b"].status == "cancelled"
    assert info.outputs == {"n": 3, "why": ""}  # never `"built": null`
    assert set(info.output_errors) == {"built"}
    assert "expected bool, got null" in info.output_errors["built"]
    assert "`b` was cancelled" in info.output_errors["built"]
    d = info.to_dict()
    assert d["outputs"] == {"n": 3, "why": ""} and "built" in d["output_errors"]
    data = completed(engine, iid)
    assert data["outputs"] == {"n": 3, "why": ""}
    assert set(data["output_errors"]) == {"built"}
    assert engine.state(iid).outputs == {"n": 3, "why": ""}


def test_an_output_that_cannot_take_its_type_fails_a_run_and_stays_unbound(
        engine: WorkflowEngine, tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() -> (n: int, ok: bool) {
  step a: shell "echo not-a-number" {
    continue_on_error
    out n: int = int(trim(stdout))
  }
  output n = a.n
  output ok = true
}""")
    info = engine.status(iid)
    assert info.steps["a"].status == "failed"
    assert info.status == "failed"
    assert info.outputs == {"ok": True}
    assert "n" in info.output_errors
    assert (info.error or "").startswith("output `n`: expected int, got null")


def test_a_cancelled_instance_binds_only_what_has_its_type(engine: WorkflowEngine,
                                                           tmp_path: Path) -> None:
    res = compile_src(tmp_path, """
flow t() -> (r: bool, label: str) {
  step a: shell "echo a" { risk 90 }
  output r = a.ok
  output label = "fixed"
}""")
    iid = engine.start_workflow_instance(res.ir, automation_level=50).instance_id
    engine.run_until_blocked(iid)
    info = engine.cancel(iid)
    assert info.status == "cancelled"
    assert info.outputs == {"label": "fixed"}
    assert set(info.output_errors) == {"r"}
    assert completed(engine, iid)["outputs"] == {"label": "fixed"}


def test_a_succeeded_instance_binds_every_output(engine: WorkflowEngine,
                                                 tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() -> (x: int, skipped: str?) {
  step a: shell "echo 4"
  step b when false: shell "echo never"
  output x = int(trim(a.stdout))
  output skipped = b.stdout
}""")
    info = engine.status(iid)
    assert info.status == "succeeded"
    assert info.outputs == {"x": 4, "skipped": None}  # null only where the type says `?`
    assert info.output_errors == {}
    assert "output_errors" not in info.to_dict()


# ---------------------------------------------------------------------------- call sites


CHILD = """
flow child() -> (shipped: bool, label: str) {
  step x: shell "exit 1"
  step y: shell "echo never"
  output shipped = y.ok
  output label = "child"
}
"""


def test_a_continue_on_error_calls_outputs_are_optional(tmp_path: Path) -> None:
    res = compile_src(tmp_path, """
flow t() -> (r: bool) {
  step c: call child() { continue_on_error }
  output r = c.shipped
}""" + CHILD)
    assert res.ir is None
    [d] = [d for d in res.diagnostics if d.code == "E0302"]
    assert "`bool?`" in d.message and d.span.line == 4
    # `ok` is always there, and without continue_on_error a dependent runs
    # only when the child succeeded, so its outputs keep their type
    assert compile_src(tmp_path, """
flow t() -> (r: bool, s: bool) {
  step c: call child() { continue_on_error }
  step d: call child()
  output r = c.ok
  output s = d.shipped
}""" + CHILD).ir is not None


def test_a_failed_childs_missing_output_reads_through_its_default(engine: WorkflowEngine,
                                                                  tmp_path: Path) -> None:
    iid = run(engine, tmp_path, """
flow t() -> (r: bool, label: str) {
  step c: call child() { continue_on_error }
  output r = c.shipped ?? false
  output label = c.label ?? "none"
}""" + CHILD)
    info = engine.status(iid)
    assert info.status == "succeeded", info.error
    assert info.outputs == {"r": False, "label": "child"}
    fields = info.steps["c"].outputs
    assert fields["ok"] is False and fields["label"] == "child"
    assert "shipped" not in fields
    child = fields["instance_id"]
    assert engine.status(child).outputs == {"label": "child"}
    assert set(engine.status(child).output_errors) == {"shipped"}
