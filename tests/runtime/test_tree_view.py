"""`status --tree` draws finished sub-flows from their stored records (no
instance lock, issue 9): the tree is the same as the one built from the
engine's full status of every instance."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatflow.compiler.api import compile_path
from chatflow.runtime import views
from chatflow.runtime.api import WorkflowEngine
from chatflow.runtime.store import open_store

FLOW = """\
flow fan() {
  parallelism "concurrent"
  parallel g {
    step a: call child(n: 0)
    step b: call child(n: 3)
    step c: call child(n: 0)
  }
}

flow child(n: int) -> (m: int) {
  step run: shell "exit {n}"
  output m = n
}
"""


def test_finished_children_from_records_match_the_full_status(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fan.flow").write_text(FLOW)
    res = compile_path(str(tmp_path / "fan.flow"))
    assert res.ir is not None, res.diagnostics
    engine = WorkflowEngine(open_store(f"file:{tmp_path / 'state'}"), workdir=str(tmp_path))
    iid = engine.start_workflow_instance(res.ir).instance_id
    engine.run_until_blocked(iid)
    fast = engine.instance_tree(iid).to_dict()
    statuses = sorted(c["status"] for c in fast["children"])
    assert len(fast["children"]) == 3 and "failed" in statuses, fast
    monkeypatch.setattr(views, "_finished_node", lambda *a: None)
    assert engine.instance_tree(iid).to_dict() == fast
