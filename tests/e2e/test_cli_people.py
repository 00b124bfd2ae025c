"""Issue 7 items 2, 4, 7 and 8 through the installed `chatflow` command (one
process per command, as a person types them): approvals inside sub-flows,
failures the user can see, the wall quota and people, typed outputs of a
failed instance."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cli_helpers import Run, run_chatflow

SUB = """\
flow sub() -> (done: bool) {
  step staging: call child()
  step after_it: shell "echo parent-after"
  output done = staging.shipped
}

flow child() -> (shipped: bool) {
  step prep: shell "echo prep"
  step checkout: approve "ship it?"
  output shipped = checkout.approved
}
"""

LONG = "echo " + "x" * 150

FAIL = f"""\
flow fail() -> (good: bool, built: bool) {{
  step a: shell "{LONG}"
  step b: shell "echo some output; echo 'line one' >&2; echo 'fatal: it broke' >&2; exit 3"
  step c: shell "echo never"
  output good = b.ok
  output built = c.ok
}}
"""

WALL = """\
flow wall() -> (done: bool) {
  quota wall 1s
  step a: shell "echo a"
  step gate: approve "go?"
  step b: shell "echo b"
  output done = b.ok
}
"""


def cf(tmp: Path, *args: str) -> Run:
    return run_chatflow(*args, "--state", f"file:{tmp / 'state'}", cwd=tmp)


def ids(tmp: Path) -> dict[str, str]:
    rows = json.loads(cf(tmp, "list", "--json").stdout)
    return {r["flow"]: r["instance_id"] for r in rows}


def status(tmp: Path, iid: str) -> dict[str, Any]:
    r = cf(tmp, "status", iid, "--json")
    assert r.code == 0, r.output
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def test_approving_inside_a_sub_flow(tmp_path: Path) -> None:
    (tmp_path / "sub.flow").write_text(SUB)
    r = cf(tmp_path, "run", "sub.flow", "--automation", "50")
    assert r.code == 3, r.output
    parent, child = ids(tmp_path)["sub"], ids(tmp_path)["child"]
    # progress lines of the sub-flow carry the call step's name
    assert "✔ staging \u203a prep succeeded" in r.stderr
    assert "⏸ staging \u203a checkout waits for approval (ship it?)" in r.stderr
    # the printed command names the child's waiting step; the parent drives on
    assert f"approve with: chatflow approve {child} checkout" in r.stderr
    assert f"then continue with: chatflow resume {parent}" in r.stderr
    assert f"chatflow approve {parent} staging" not in r.output

    tree = cf(tmp_path, "status", parent, "--tree")
    assert tree.code == 0
    assert "⏸ staging (its sub-flow waits)" in tree.stdout
    assert '⏸ checkout "ship it?"' in tree.stdout

    for extra in ((), ("--reject",)):
        wrong = cf(tmp_path, "approve", parent, "staging", *extra)
        assert wrong.code == 2, wrong.output
        assert f"chatflow approve {child} checkout" in wrong.stderr
    ok = cf(tmp_path, "approve", child, "checkout", "--by", "ann")
    assert ok.code == 0, ok.output
    assert f"continue with: chatflow resume {parent}" in ok.stderr
    done = cf(tmp_path, "resume", parent)
    assert done.code == 0, done.output
    assert "▶ staging (resumed)" in done.stderr
    st = status(tmp_path, parent)
    assert st["status"] == "succeeded" and st["outputs"] == {"done": True}
    assert st["steps"]["staging"]["attempts"] == 1


def test_a_failure_shows_its_output_and_status_shows_the_latest(tmp_path: Path) -> None:
    (tmp_path / "fail.flow").write_text(FAIL)
    empty = cf(tmp_path, "status")
    assert empty.code == 2 and "no instances yet" in empty.stderr
    r = cf(tmp_path, "run", "fail.flow")
    assert r.code == 1, r.output
    err = r.stderr.splitlines()
    # not hard-wrapped (stderr is a pipe here): the long command is one line
    assert f"▶ a {LONG}" in err
    i = err.index("✘ b failed: command exited with code 3")
    assert err[i + 1:i + 3] == ["  │ line one", "  │ fatal: it broke"]
    assert r.stderr.count("│ fatal: it broke") == 1  # not again in the summary
    iid = ids(tmp_path)["fail"]

    st = cf(tmp_path, "status")
    assert st.code == 0, st.output
    assert f"(most recent instance: {iid})" in st.stderr
    rows = {line.split()[0]: line for line in st.stdout.splitlines() if line.startswith("  ")}
    assert "command exited with code 3" in rows["b"]
    assert rows["a"].split()[4].endswith("ms") or rows["a"].split()[4].endswith("s")
    assert "dependency `b` did not succeed" in rows["c"]
    assert "│ fatal: it broke" in st.stdout
    # item 8: the output whose step never ran is not bound, and status says why
    assert 'outputs: {"good": false}' in st.stdout
    assert "output `built` not bound: expected bool, got null" in st.stdout
    js = status(tmp_path, iid)
    assert js["outputs"] == {"good": False} and "built" in js["output_errors"]
    assert js["steps"]["b"]["duration_ms"] >= 0 and "duration_ms" not in js["steps"]["c"]

    hist = cf(tmp_path, "history")
    assert hist.code == 0 and f"(most recent instance: {iid})" in hist.stderr
    assert "instance_completed" in hist.stdout


def test_waiting_for_a_person_does_not_spend_the_wall_quota(tmp_path: Path) -> None:
    (tmp_path / "wall.flow").write_text(WALL)
    r = cf(tmp_path, "run", "wall.flow", "--automation", "50")
    assert r.code == 3, r.output
    iid = ids(tmp_path)["wall"]
    time.sleep(1.3)  # the person takes longer than the whole quota
    assert cf(tmp_path, "approve", iid, "gate").code == 0
    done = cf(tmp_path, "resume", iid)
    assert done.code == 0, done.output
    st = status(tmp_path, iid)
    assert st["status"] == "succeeded"
    wall = st["quota"]["wall_ms"]
    assert wall["spent"] < wall["limit"] <= wall["waiting_ms"] == st["waiting_ms"]
    text = cf(tmp_path, "status", iid).stdout
    assert "waiting for people, not counted" in text and "waited for people" in text
