"""Everyday commands report damaged instance files; `resume` repairs what
it safely can and goes on without re-running a completed step."""

from __future__ import annotations

from pathlib import Path

from contract_helpers import cf, write

GATED = """\
flow gated() {
  step first: shell "echo first >> log.txt"
  step rev: shell "echo rev >> log.txt" { risk 80 }
  step last: shell "echo last >> log.txt"
}
"""


def _waiting(tmp_path: Path) -> str:
    write(tmp_path, "gated.flow", GATED)
    r = cf(tmp_path, "run", "gated.flow", "--automation", "50", "--json")
    assert r.code == 3, r.output
    return str(r.json()["instance_id"])


def test_status_and_history_warn_about_a_torn_history(tmp_path: Path) -> None:
    iid = _waiting(tmp_path)
    hist = tmp_path / ".chatflow" / "instances" / iid / "history.ndjson"
    hist.write_bytes(hist.read_bytes()[:-5])
    for cmd in ("status", "history"):
        r = cf(tmp_path, cmd, iid)
        assert r.code == 0, r.output
        assert "torn-tail" in r.stderr and f"chatflow repair {iid}" in r.stderr, r.stderr


def test_resume_repairs_garbage_status_and_goes_on(tmp_path: Path) -> None:
    iid = _waiting(tmp_path)
    assert cf(tmp_path, "approve", iid, "rev").code == 0
    (tmp_path / ".chatflow" / "instances" / f"{iid}.json").write_text("garbage")
    r = cf(tmp_path, "resume", iid, "--json")
    assert r.code == 0, r.output
    assert "repaired:" in r.stderr, r.stderr
    assert r.json()["status"] == "succeeded"
    assert (tmp_path / "log.txt").read_text().split() == ["first", "rev", "last"]
    clean = cf(tmp_path, "status", iid)
    assert clean.code == 0 and "warning" not in clean.stderr, clean.stderr


def test_history_cut_at_a_line_boundary_is_reported_and_recorded(tmp_path: Path) -> None:
    """Regression (issue 7): a journal that lost its last commit used to look
    clean (`status`, `repair` "no problems") and later events were renumbered."""
    iid = _waiting(tmp_path)
    hist = tmp_path / ".chatflow" / "instances" / iid / "history.ndjson"
    lines = hist.read_bytes().splitlines(keepends=True)
    hist.write_bytes(b"".join(lines[:-1]))        # event 4 (step_waiting_approval) is gone
    status = cf(tmp_path, "status", iid)
    assert status.code == 0 and "lost-history" in status.stderr, status.output
    assert f"until `chatflow repair {iid}` records the loss" in status.stderr
    listed = cf(tmp_path, "list")
    assert listed.code == 1 and "lost-history" in listed.stdout, listed.output
    refused = cf(tmp_path, "approve", iid, "rev")
    assert refused.code == 1 and f"chatflow repair {iid}" in refused.stderr, refused.output
    repaired = cf(tmp_path, "repair", iid)
    assert repaired.code == 0, repaired.output
    assert "problem: " in repaired.stdout and "seq 4" in repaired.stdout
    assert "repaired: recorded the loss as event 5 (`history_lost`)" in repaired.stdout
    assert "backup: " in repaired.stdout
    assert cf(tmp_path, "repair", iid).stdout == f"{iid}: no problems found\n"
    seqs = [int(line.split()[0]) for line in cf(tmp_path, "history", iid).stdout.splitlines()]
    assert seqs == [1, 2, 3, 5]
    assert cf(tmp_path, "approve", iid, "rev").code == 0
    done = cf(tmp_path, "resume", iid, "--json")
    assert done.code == 0 and done.json()["status"] == "succeeded", done.output
    assert (tmp_path / "log.txt").read_text().split() == ["first", "rev", "last"]
    seqs = [int(line.split()[0]) for line in cf(tmp_path, "history", iid).stdout.splitlines()]
    assert seqs[:5] == [1, 2, 3, 5, 6] and len(seqs) == len(set(seqs))


def test_resume_does_not_repair_lost_history_by_itself(tmp_path: Path) -> None:
    iid = _waiting(tmp_path)
    assert cf(tmp_path, "approve", iid, "rev").code == 0
    hist = tmp_path / ".chatflow" / "instances" / iid / "history.ndjson"
    hist.write_bytes(b"")
    r = cf(tmp_path, "resume", iid)
    assert r.code == 1, r.output
    assert "lost-history" in r.stderr and "repaired:" not in r.stderr
    assert hist.read_bytes() == b""
