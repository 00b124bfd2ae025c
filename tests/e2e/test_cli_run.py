"""`chatflow run / status / approve / resume / history / ...` end to end on the
docs/language.md §1 example, with a scripted agent and fake `make`/`pytest`/`ruff`
on PATH, in a temporary directory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import EXAMPLES, run_chatflow

FAKE_AGENT = """\
import json, sys
req = json.load(sys.stdin)
print(json.dumps({"text": "design: " + req["prompt"], "tokens": 42}))
"""

FAKE_TOOLS = {
    "make": '#!/bin/sh\npython3 -c \'import json,sys; '
            'open("make_args.json","w").write(json.dumps(sys.argv[1:]))\' "$@"\n',
    "pytest": '#!/bin/sh\necho \'{"coverage": 0.92}\' > report.json\n'
              'echo \'{"coverage": 0.92}\'\n',
    "ruff": "#!/bin/sh\necho ok\n",
}

STUB_BUGFIX = """\
flow bugfix(issue: str) -> (fixed: bool) {
  step fix: shell "echo fixing"
  output fixed = fix.ok
}
"""


def _project(tmp: Path) -> dict[str, str]:
    shutil.copy(EXAMPLES / "feature.flow", tmp / "feature.flow")
    (tmp / ".chatflow").mkdir()
    (tmp / ".chatflow" / "config.yaml").write_text(
        'agents:\n  chatcoder:\n    command: "python3 fake_agent.py"\n')
    (tmp / "fake_agent.py").write_text(FAKE_AGENT)
    bindir = tmp / "bin"
    bindir.mkdir()
    for name, text in FAKE_TOOLS.items():
        p = bindir / name
        p.write_text(text)
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    check = run_chatflow("compile", "feature.flow", cwd=tmp, env=env)
    if check.code != 0 and "standard library" in check.output:
        # the std `bugfix` flow has not landed in this build: use a local one
        text = (tmp / "feature.flow").read_text()
        (tmp / "feature.flow").write_text(
            text.replace('import bugfix from "std"', 'import bugfix from "./bugfix.flow"'))
        (tmp / "bugfix.flow").write_text(STUB_BUGFIX)
    return env


def _json(out: str) -> Any:
    return json.loads(out)


def _waiting(tmp: Path, env: dict[str, str], iid: str) -> list[str]:
    r = run_chatflow("status", iid, "--json", cwd=tmp, env=env)
    assert r.code == 0, r.output
    return [n for n, s in _json(r.stdout)["steps"].items() if s["status"] == "waiting_approval"]


def test_automation_100_runs_to_the_end(tmp_path: Path) -> None:
    env = _project(tmp_path)
    r = run_chatflow("run", "feature.flow", "-i", "feature_id=F-1", "--automation", "100",
                     "--json", cwd=tmp_path, env=env)
    assert r.code == 0, r.output
    st = _json(r.stdout)
    assert st["status"] == "succeeded"
    assert st["outputs"] == {"merged": True}
    assert st["steps"]["unit"]["outputs"]["coverage"] == 0.92
    assert st["steps"]["design"]["outputs"]["tokens"] == 42
    assert st["steps"]["fix"]["status"] == "skipped"
    assert json.loads((tmp_path / "make_args.json").read_text()) == ["build", "FEATURE=F-1"]


def test_automation_60_pauses_at_review_then_approve_and_resume(tmp_path: Path) -> None:
    env = _project(tmp_path)
    r = run_chatflow("run", "feature.flow", "-i", "feature_id=F-2", "--json",
                     cwd=tmp_path, env=env)
    assert r.code == 3, r.output
    st = _json(r.stdout)
    iid = st["instance_id"]
    assert st["status"] == "waiting_approval"
    assert _waiting(tmp_path, env, iid) == ["review"]
    assert st["steps"]["design"]["status"] == "succeeded"  # risk 20 < 60
    a = run_chatflow("approve", iid, "review", "--by", "ann", "--comment", "ok",
                     cwd=tmp_path, env=env)
    assert a.code == 0, a.output
    assert f"chatflow resume {iid}" in a.stderr
    r2 = run_chatflow("resume", iid, "--json", cwd=tmp_path, env=env)
    assert r2.code == 0, r2.output
    assert _json(r2.stdout)["outputs"] == {"merged": True}
    h = run_chatflow("history", iid, "--json", cwd=tmp_path, env=env)
    lines = [json.loads(x) for x in h.stdout.splitlines()]
    assert all({"seq", "type", "ts", "step"} <= set(e) for e in lines)
    types = {e["type"] for e in lines}
    assert {"instance_started", "step_started", "step_completed", "step_waiting_approval",
            "step_approved", "instance_completed"} <= types
    completed = [e["step"] for e in lines if e["type"] == "step_completed"]
    assert len(completed) == len(set(completed))
    assert all("status" in e["data"] for e in lines if e["type"] == "step_completed")
    text = run_chatflow("history", iid, cwd=tmp_path, env=env)
    assert text.code == 0 and "step_approved" in text.stdout


def test_automation_60_reject_fails(tmp_path: Path) -> None:
    env = _project(tmp_path)
    r = run_chatflow("run", "feature.flow", "-i", "feature_id=F-3", "--json",
                     cwd=tmp_path, env=env)
    iid = _json(r.stdout)["instance_id"]
    a = run_chatflow("approve", iid, "review", "--reject", "--by", "bob", cwd=tmp_path, env=env)
    assert a.code == 0, a.output
    r2 = run_chatflow("resume", iid, "--json", cwd=tmp_path, env=env)
    assert r2.code == 1
    h = run_chatflow("history", iid, "--json", cwd=tmp_path, env=env)
    assert any(json.loads(x)["type"] == "step_rejected" for x in h.stdout.splitlines())


def test_automation_0_every_step_waits(tmp_path: Path) -> None:
    env = _project(tmp_path)
    r = run_chatflow("run", "feature.flow", "-i", "feature_id=F-4", "--automation", "0",
                     "--feature", "F-4",
                     "--json", cwd=tmp_path, env=env)
    assert r.code == 3, r.output
    iid = _json(r.stdout)["instance_id"]
    approved: list[str] = []
    for _ in range(10):
        waiting = _waiting(tmp_path, env, iid)
        assert waiting, "waiting_approval with nothing to approve"
        for step in waiting:
            a = run_chatflow("approve", iid, step, cwd=tmp_path, env=env)
            assert a.code == 0, a.output
            approved.append(step)
        r = run_chatflow("resume", iid, "--json", cwd=tmp_path, env=env)
        if r.code != 3:
            break
    assert r.code == 0, r.output
    assert approved == ["design", "build", "unit", "lint", "review"]
    lst = run_chatflow("list", "--feature", "F-4", "--json", cwd=tmp_path, env=env)
    assert [x["instance_id"] for x in _json(lst.stdout)] == [iid]


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
        h.update(str(p.stat().st_mode).encode())
    return h.hexdigest()


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    env = _project(tmp_path)
    first = run_chatflow("run", "feature.flow", "-i", "feature_id=F-5", "--automation", "100",
                         cwd=tmp_path, env=env)
    assert first.code == 0, first.output
    before = _tree_hash(tmp_path / ".chatflow")
    r = run_chatflow("run", "feature.flow", "-i", "feature_id=F-6", "--dry-run",
                     cwd=tmp_path, env=env)
    assert r.code == 0, r.output
    assert 'make build FEATURE="${cf_feature_id}"\n      cf_feature_id = "F-6"\n' in r.stdout
    assert "pause" in r.stdout  # review pauses at the flow's automation 60
    assert _tree_hash(tmp_path / ".chatflow") == before
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy(tmp_path / "feature.flow", fresh / "feature.flow")
    if (tmp_path / "bugfix.flow").exists():
        shutil.copy(tmp_path / "bugfix.flow", fresh / "bugfix.flow")
    r = run_chatflow("run", "feature.flow", "-i", "feature_id=F-7", "--dry-run", "--json",
                     cwd=fresh, env=env)
    assert r.code == 0, r.output
    assert not (fresh / ".chatflow").exists()
    plan = _json(r.stdout)["plan"]
    assert [p["step"] for p in plan][:3] == ["design", "build", "checks"]


def test_hostile_input_is_one_literal_argument(tmp_path: Path) -> None:
    env = _project(tmp_path)
    evil = 'x"; touch pwned; echo "$(touch pwned2)'
    r = run_chatflow("run", "feature.flow", "-i", f"feature_id={evil}", "--automation", "100",
                     cwd=tmp_path, env=env)
    assert r.code == 0, r.output
    assert json.loads((tmp_path / "make_args.json").read_text()) == ["build", f"FEATURE={evil}"]
    assert not list(tmp_path.glob("pwned*"))


def test_runtime_usage_errors_exit_2(tmp_path: Path) -> None:
    env = _project(tmp_path)
    r = run_chatflow("status", "no-such-id", cwd=tmp_path, env=env)
    assert r.code == 2 and "no-such-id" in r.stderr
    r = run_chatflow("run", "feature.flow", "-i", "coverage_min=lots", "-i", "feature_id=x",
                     cwd=tmp_path, env=env)
    assert r.code == 2 and "coverage_min" in r.stderr
    r = run_chatflow("run", "feature.flow", "-i", "nope=1", cwd=tmp_path, env=env)
    assert r.code == 2 and "nope" in r.stderr
    r = run_chatflow("run", "feature.flow", cwd=tmp_path, env=env)
    assert r.code == 2 and "feature_id" in r.stderr
    (tmp_path / "bad.flow").write_text('flow bad() {\n  step a after nope: shell "x"\n}\n')
    r = run_chatflow("run", "bad.flow", cwd=tmp_path, env=env)
    assert r.code == 2 and "nope" in r.stderr and "-->" in r.stderr
    r = run_chatflow("approve", "no-such-id", "review", cwd=tmp_path, env=env)
    assert r.code == 2


def test_cancel_artifacts_and_state_flag(tmp_path: Path) -> None:
    env = _project(tmp_path)
    url = f"sqlite:///{tmp_path / 'other.db'}"
    r = run_chatflow("run", "feature.flow", "-i", "feature_id=F-8", "--state", url, "--json",
                     cwd=tmp_path, env=env)
    assert r.code == 3, r.output
    iid = _json(r.stdout)["instance_id"]
    assert run_chatflow("status", iid, cwd=tmp_path, env=env).code == 2  # not in file:
    art = run_chatflow("artifacts", iid, "build", "--state", url, cwd=tmp_path, env=env)
    assert art.code == 0, art.output
    c = run_chatflow("cancel", iid, "--state", url, cwd=tmp_path, env=env)
    assert c.code == 0 and "cancelled" in c.stderr
    s = run_chatflow("status", iid, "--state", url, "--json", cwd=tmp_path, env=env)
    assert _json(s.stdout)["status"] == "cancelled"
    m = run_chatflow("migrate", "--state", url, cwd=tmp_path, env=env)
    assert m.code == 0, m.output


@pytest.mark.parametrize("value,expected", [("3", 3), ("[1, 2]", [1, 2])])
def test_input_values_follow_param_types(tmp_path: Path, value: str, expected: Any) -> None:
    ptype = "int" if isinstance(expected, int) else "list[int]"
    (tmp_path / "p.flow").write_text(
        f"flow p(v: {ptype}) -> (o: {ptype}) {{\n  step a: shell \"true\"\n  output o = v\n}}\n")
    r = run_chatflow("run", "p.flow", "-i", f"v={value}", "--json", cwd=tmp_path)
    assert r.code == 0, r.output
    assert _json(r.stdout)["outputs"] == {"o": expected}
