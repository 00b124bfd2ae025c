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
