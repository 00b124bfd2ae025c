"""Outside contract tests of the runtime (issue 3 items 1, 3, 4, 7, 8, 9 and
docs/language.md §8), driven the way a user drives it: the installed `chatflow`
command in a temporary project, and `from chatflow import WorkflowEngine`.

Every project gets its own HOME (see contract_helpers.sandbox_env): some
tests feed canary values (`x"; touch "$HOME/pwned"; echo "`) to shell steps. Tests marked
`xfail(strict=True)` document product bugs listed in /work/notes/bugs.md
("runtime QA"); remove the mark when the bug is fixed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import chatflow_command
from contract_helpers import cf, cf_many, sandbox_env, tree_digest, write

from chatflow import (
    WorkflowEngine,
    WorkflowHistoryEvent,
    WorkflowStartResult,
    WorkflowStatusInfo,
)
from chatflow.diagnostics import ChatflowError
from installed_cli import with_default_sigint

HOSTILE = 'x"; touch "$HOME/pwned"; echo "'
"""A canary: had it run, `home/pwned` would exist."""

BACKENDS = ["file", "sqlite"]


def state_url(project: Path, backend: str) -> str:
    if backend == "file":
        return f"file:{project / 'st'}"
    return f"sqlite:///{project / 'st.db'}"


def state_path(project: Path, backend: str) -> Path:
    return project / ("st" if backend == "file" else "st.db")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "canary").write_text("still here")
    return tmp_path


@pytest.fixture(autouse=True)
def _forget_engines() -> Iterator[None]:
    yield
    WorkflowEngine.forget()


# --------------------------------------------------------------------------- flows

GATED = """\
flow gated(name: str = "n") -> (ok: bool, who: str, note: str) {
  step first: shell "echo first {name}"
  step rev: approve "Ship {name}?"
  step last: shell "echo last"
  output ok = rev.approved
  output who = rev.by
  output note = rev.comment
}
"""

SIMPLE = """\
flow simple(msg: str = "hi") -> (out: str) {
  step a: shell "echo {msg}"
  step b: shell "echo b"
  output out = a.stdout
}
"""

FAILING = """\
flow failing() {
  step a: shell "echo a"
  step b: shell "exit 3"
  step c: shell "echo never"
}
"""

TYPED = """\
flow typed(s: str, i: int = 0, f: float = 0.0, b: bool = false, d: duration = 1s,
           j: json = null, l: list[int] = [], m: map[str] = {}, o: str? = null) {
  step show: shell "echo typed"
}
"""

ARGV_PY = """\
import json, sys
with open("argv.jsonl", "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


def run_json(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    r = cf(project, "run", *args, "--json", env=env)
    assert r.stdout.strip(), r.output
    return r.code, r.json()


def events_of(project: Path, iid: str, url: str | None = None) -> list[dict[str, Any]]:
    """The instance's history read in-process (cheaper than `chatflow history`)."""
    url = url or f"file:{project / '.chatflow'}"
    eng = WorkflowEngine.open(url, workdir=str(project))
    try:
        return [e.to_dict() for e in eng.history(iid)]
    finally:
        WorkflowEngine.forget()


def api_run(project: Path, flow_file: str, inputs: dict[str, Any] | None = None,
            level: int | None = None, url: str | None = None
            ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Start and drive an instance in-process; its status object and history."""
    url = url or f"file:{project / '.chatflow'}"
    eng = WorkflowEngine.open(url, workdir=str(project))
    try:
        iid = eng.start_workflow_instance(str(project / flow_file), inputs=inputs,
                                          automation_level=level).instance_id
        eng.run_until_blocked(iid)
        return eng.status(iid).to_dict(), [e.to_dict() for e in eng.history(iid)]
    finally:
        WorkflowEngine.forget()


def statuses(st: dict[str, Any]) -> dict[str, str]:
    return {name: s["status"] for name, s in st["steps"].items()}


# ---------------------------------------------------------------- CLI: run

def test_run_exit_codes_0_1_3(project: Path) -> None:
    backend = "sqlite"  # the file backend is what every other CLI test runs on
    write(project, "simple.flow", SIMPLE)
    write(project, "failing.flow", FAILING)
    write(project, "gated.flow", GATED)
    url = state_url(project, backend)
    ok, failed, waiting = cf_many(project, [
        ("run", "simple.flow", "--state", url, "--json"),
        ("run", "failing.flow", "--state", url, "--json"),
        ("run", "gated.flow", "--state", url, "--automation", "50", "--json"),
    ])
    assert ok.code == 0, ok.output
    assert ok.json()["status"] == "succeeded"
    assert failed.code == 1, failed.output
    fst = failed.json()
    assert fst["status"] == "failed"
    assert statuses(fst) == {"a": "succeeded", "b": "failed", "c": "cancelled"}
    assert waiting.code == 3, waiting.output
    assert waiting.json()["status"] == "waiting_approval"


def test_run_usage_and_compile_errors_exit_2(project: Path) -> None:
    write(project, "bad.flow",
          'flow bad() {\n  step a: shell "x"\n  step b after buidl: shell "y"\n}\n')
    write(project, "two.flow",
          'flow one() { step a: shell "x" }\nflow other() { step a: shell "y" }\n')
    write(project, "simple.flow", SIMPLE)
    calls = [
        ("run", "bad.flow"),
        ("run", "missing.flow"),
        ("run", "two.flow"),
        ("run", "two.flow:nope"),
        ("run", "simple.flow", "--automation", "101"),
        ("run", "simple.flow", "-i", "nosuch=1"),
        ("run", "simple.flow", "-i", "msg"),
    ]
    results = cf_many(project, calls)
    for call, r in zip(calls, results, strict=True):
        assert r.code == 2, (call, r.output)
    bad = results[0]
    assert "error[E" in bad.stderr and "--> bad.flow:3:" in bad.stderr, bad.stderr
    assert "^" in bad.stderr  # caret line as `chatflow lint` prints it
    assert "one" in results[2].stderr and "other" in results[2].stderr
    # nothing was started by any of them
    assert not (project / ".chatflow" / "instances").exists() or not any(
        (project / ".chatflow" / "instances").glob("*.json"))


def test_run_selects_flow_after_colon_and_missing_required_param(project: Path) -> None:
    write(project, "two.flow", 'flow one() { step a: shell "echo one" }\n'
                               'flow other(p: str) { step a: shell "echo {p}" }\n')
    one, other_missing, other = cf_many(project, [
        ("run", "two.flow:one", "--json"),
        ("run", "two.flow:other", "--json"),
        ("run", "two.flow:other", "-i", "p=zz", "--json"),
    ])
    assert one.code == 0 and one.json()["flow"] == "one"
    assert other_missing.code == 2, other_missing.output
    assert "p" in other_missing.stderr
    assert other.code == 0 and other.json()["steps"]["a"]["outputs"]["stdout"] == "zz\n"


# ---------------------------------------------------------------- status / list

@pytest.mark.parametrize("backend", BACKENDS)
def test_status_json_shape_and_outputs_once_bound(project: Path, backend: str) -> None:
    write(project, "gated.flow", GATED)
    url = state_url(project, backend)
    code, st = run_json(project, "gated.flow", "-i", "name=Q", "--feature", "F-9",
                        "--automation", "50", "--state", url)
    assert code == 3
    for key in ("instance_id", "flow", "status", "progress", "feature_id", "outputs", "steps"):
        assert key in st, key
    assert st["flow"] == "gated" and st["feature_id"] == "F-9"
    assert st["outputs"] == {}  # not bound yet
    assert 0 < st["progress"] < 1
    assert statuses(st) == {"first": "succeeded", "rev": "waiting_approval", "last": "pending"}
    for s in st["steps"].values():
        assert set(s) >= {"status", "attempts", "outputs"}
    assert st["steps"]["first"]["attempts"] == 1
    assert st["steps"]["first"]["outputs"] == {"ok": True, "exit_code": 0,
                                                "stdout": "first Q\n", "stderr": ""}
    assert st["steps"]["last"]["attempts"] == 0
    iid = st["instance_id"]
    again = cf(project, "status", iid, "--json", "--state", url)
    assert again.code == 0 and again.json()["steps"] == st["steps"]
    text = cf(project, "status", iid, "--state", url)
    assert text.code == 0 and iid in text.stdout and "waiting_approval" in text.stdout
    cf(project, "approve", iid, "rev", "--by", "ann", "--comment", "fine", "--state", url)
    done = cf(project, "resume", iid, "--json", "--state", url)
    assert done.code == 0, done.output
    fin = done.json()
    assert fin["status"] == "succeeded" and fin["progress"] == 1
    assert fin["outputs"] == {"ok": True, "who": "ann", "note": "fine"}  # declared outputs only


@pytest.mark.parametrize("backend", BACKENDS)
def test_list_and_feature_filter(project: Path, backend: str) -> None:
    write(project, "simple.flow", SIMPLE)
    url = state_url(project, backend)
    eng = WorkflowEngine.open(url, workdir=str(project))
    started = [eng.start_workflow_instance(str(project / "simple.flow"), feature_id=f)
               for f in ("F-1", "F-1", "F-2")]
    for one in started:
        eng.run_until_blocked(one.instance_id)
    WorkflowEngine.forget()
    ids1 = {started[0].instance_id, started[1].instance_id}
    id2 = started[2].instance_id
    all_, f1, none, text = cf_many(project, [
        ("list", "--state", url, "--json"),
        ("list", "--feature", "F-1", "--state", url, "--json"),
        ("list", "--feature", "F-404", "--state", url, "--json"),
        ("list", "--feature", "F-2", "--state", url),
    ])
    assert {i["instance_id"] for i in all_.json()} == ids1 | {id2}
    assert {i["instance_id"] for i in f1.json()} == ids1
    assert all(i["feature_id"] == "F-1" and i["status"] == "succeeded" for i in f1.json())
    assert none.code == 0 and none.json() == []
    assert id2 in text.stdout and not any(i in text.stdout for i in ids1)
    if backend == "file":
        index = json.loads((project / "st" / ".indexes" / "feature_index.json").read_text())
        assert set(index["F-1"]) == ids1


# ---------------------------------------------------------------- history

def test_history_json_events(project: Path) -> None:
    write(project, "gated.flow", GATED)
    code, st = run_json(project, "gated.flow", "--automation", "0")
    iid = st["instance_id"]
    assert code == 3 and statuses(st)["first"] == "waiting_approval"  # level 0: every step
    cf(project, "approve", iid, "first", "--by", "ops")
    assert cf(project, "resume", iid).code == 3
    r = cf(project, "approve", iid, "rev", "--reject", "--by", "boss", "--comment", "no way")
    assert r.code == 0, r.output
    fin = cf(project, "resume", iid, "--json")
    assert fin.code == 1 and fin.json()["status"] == "failed"
    assert fin.json()["steps"]["rev"]["outputs"] == {"approved": False, "by": "boss",
                                                     "comment": "no way"}
    h = cf(project, "history", iid, "--json")
    assert h.code == 0
    events = h.ndjson()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    for e in events:
        assert {"seq", "type", "ts", "step"} <= set(e)
        assert isinstance(e["ts"], str) and e["ts"][:2] == "20"
    types = [e["type"] for e in events]
    assert types[0] == "instance_started" and types[-1] == "instance_completed"
    for t in ("step_started", "step_completed", "step_waiting_approval", "step_approved",
              "step_rejected"):
        assert t in types, t
    completed = {e["step"]: e for e in events if e["type"] == "step_completed"}
    assert [e["step"] for e in events if e["type"] == "step_completed"].count("first") == 1
    assert completed["first"]["data"]["status"] == "succeeded"
    assert completed["rev"]["data"]["status"] == "failed"
    assert completed["last"]["data"]["status"] == "cancelled"
    rejected = next(e for e in events if e["type"] == "step_rejected")
    assert rejected["step"] == "rev"
    approved = next(e for e in events if e["type"] == "step_approved")
    assert approved["step"] == "first"
    text = cf(project, "history", iid)
    assert len(text.stdout.strip().splitlines()) == len(events)


# ---------------------------------------------------------------- -i typing

def test_inputs_are_read_per_declared_type(project: Path) -> None:
    write(project, "typed.flow", TYPED)
    calls = [
        ("run", "typed.flow", "-i", "s=007", "-i", "i=42", "-i", "f=2", "-i", "b=yes",
         "-i", "d=10m", "-i", 'j={"k": [1, null]}', "-i", "l=[1,2]", "-i", 'm={"a":"b"}',
         "-i", "o=null"),
        ("run", "typed.flow", "-i", "s=", "-i", "b=0", "-i", "f=1.5", "-i", "o=text",
         "-i", "j=3"),
        ("run", "typed.flow", "-i", "s=a=b", "-i", "b=TRUE", "-i", "i=-7"),
    ]
    runs = cf_many(project, calls)
    assert all(r.code == 0 for r in runs), [r.output for r in runs]
    ids = [i["instance_id"] for i in cf(project, "list", "--json").json()]
    inputs = {}
    for iid in ids:
        first = events_of(project, iid)[0]
        assert first["type"] == "instance_started"
        inputs[first["data"]["inputs"]["s"]] = first["data"]["inputs"]
    one, two, three = inputs["007"], inputs[""], inputs["a=b"]
    assert one["i"] == 42 and isinstance(one["i"], int)
    assert one["f"] == 2.0 and one["b"] is True
    assert one["j"] == {"k": [1, None]} and one["l"] == [1, 2] and one["m"] == {"a": "b"}
    assert one["o"] is None
    assert one["d"] in (600000, 600, "10m")  # ms in the IR, as the status shows it
    assert two["b"] is False and two["f"] == 1.5 and two["o"] == "text" and two["j"] == 3
    assert three["b"] is True and three["i"] == -7


BAD_INPUTS = ["i=1.5", "f=x", "b=maybe", "d=soon", 'l=[1,"a"]', "m=[1]", "j={bad"]


def test_bad_input_values_exit_2_and_start_nothing(project: Path) -> None:
    write(project, "typed.flow", TYPED)
    results = cf_many(project, [("run", "typed.flow", "-i", "s=x", "-i", bad)
                                for bad in BAD_INPUTS])
    for bad, r in zip(BAD_INPUTS, results, strict=True):
        assert r.code == 2, (bad, r.output)
        name = bad.split("=", 1)[0]
        assert f"`{name}`" in r.stderr, (bad, r.stderr)
        assert len(r.stderr.strip().splitlines()) <= 3, r.stderr
    assert cf(project, "list", "--json").json() == []


# ---------------------------------------------------------------- --state everywhere

def test_state_flag_is_accepted_by_every_command_sqlite(project: Path) -> None:
    write(project, "gated.flow", GATED)
    url = f"sqlite:///{project / 'only.db'}"
    code, st = run_json(project, "gated.flow", "--automation", "50", "--state", url)
    iid = st["instance_id"]
    assert code == 3
    reads = [("status", iid, "--json"), ("list",), ("history", iid, "--json"),
             ("artifacts", iid, "first"), ("repair", iid)]
    for args, r in zip(reads, cf_many(project, [(*a, "--state", url) for a in reads]),
                       strict=True):
        assert r.code == 0, (args, r.output)
        assert r.stdout.strip() or args[0] == "repair", (args, r.output)
    assert cf(project, "approve", iid, "rev", "--state", url).code == 0
    assert cf(project, "resume", iid, "--state", url).code == 0
    assert cf(project, "cancel", iid, "--state", url).code == 0
    assert cf(project, "migrate", "--state", url).code == 0
    # the default store was never touched
    assert not (project / ".chatflow").exists()
    # and the instance is not visible without the flag
    assert cf(project, "status", iid).code == 2


def test_chatflow_state_env_and_config_precedence(project: Path) -> None:
    write(project, "simple.flow", SIMPLE)
    write(project, ".chatflow/config.yaml", "state: sqlite:///from_config.db\n")
    env_url = f"sqlite:///{project / 'from_env.db'}"
    flag_url = f"file:{project / 'from_flag'}"
    by_config = cf(project, "run", "simple.flow", "--json").json()["instance_id"]
    by_env = cf(project, "run", "simple.flow", "--json",
                env={"CHATFLOW_STATE": env_url}).json()["instance_id"]
    by_flag = cf(project, "run", "simple.flow", "--json", "--state", flag_url,
                 env={"CHATFLOW_STATE": env_url}).json()["instance_id"]
    assert (project / "from_config.db").exists() or (project / ".chatflow" / "from_config.db"
                                                     ).exists()
    assert (project / "from_env.db").exists() and (project / "from_flag").is_dir()
    by_config_list, via_env = cf_many(project, [("list", "--json"),
                                                ("status", by_env, "--json")],
                                      env={"CHATFLOW_STATE": env_url})
    assert [i["instance_id"] for i in by_config_list.json()] == [by_env]
    assert via_env.code == 0 and via_env.json()["instance_id"] == by_env
    assert [i["instance_id"] for i in cf(project, "list", "--json").json()] == [by_config]
    for url, iid in ((flag_url, by_flag), (env_url, by_env)):
        eng = WorkflowEngine.open(url, workdir=str(project))
        assert [i["instance_id"] for i in eng.list_instances()] == [iid]
        WorkflowEngine.forget()


def test_bad_state_urls_and_garbage_config_are_clear_errors(project: Path) -> None:
    write(project, "simple.flow", SIMPLE)
    r = cf(project, "list", "--state", "bogus:xyz")
    assert r.code == 2 and "bogus" in r.stderr
    write(project, ".chatflow/config.yaml", "state: [unclosed\n")
    r = cf(project, "run", "simple.flow")
    assert r.code in (1, 2) and "config.yaml" in r.stderr
    write(project, ".chatflow/config.yaml", "automation: 500\n")
    r = cf(project, "run", "simple.flow")
    assert r.code in (1, 2) and "automation" in r.stderr


# ---------------------------------------------------------------- config: automation, agents

AGENT_PY = """\
import json, sys
req = json.load(sys.stdin)
with open("agent_requests.jsonl", "a") as f:
    f.write(json.dumps(req) + "\\n")
print(json.dumps({"text": "reply to " + req["prompt"], "tokens": 11}))
"""

AGENT_FLOW = """\
flow agented(topic: str) -> (text: str, tokens: int) {
  step write: agent "bot" {
    prompt "Write about {topic}"
    with { n: 3, tag: "t-{topic}" }
  }
  output text = write.text
  output tokens = write.tokens
}
"""


def test_agent_command_adapter_protocol(project: Path) -> None:
    write(project, "agent.py", AGENT_PY)
    write(project, ".chatflow/config.yaml",
          'agents:\n  bot:\n    command: "python3 agent.py"\n')
    write(project, "agented.flow", AGENT_FLOW)
    code, st = run_json(project, "agented.flow", "-i", f"topic={HOSTILE}")
    assert code == 0, st
    assert st["outputs"] == {"text": f"reply to Write about {HOSTILE}", "tokens": 11}
    assert st["steps"]["write"]["outputs"]["ok"] is True
    (req,) = [json.loads(x) for x in (project / "agent_requests.jsonl").read_text().splitlines()]
    assert set(req) == {"prompt", "with", "instance_id", "step"}
    assert req == {"prompt": f"Write about {HOSTILE}", "with": {"n": 3, "tag": f"t-{HOSTILE}"},
                   "instance_id": st["instance_id"], "step": "write"}
    assert (project / "home" / "canary").exists()


@pytest.mark.parametrize("script", [
    'print("not json at all")',
    'import sys; sys.exit(4)',
    'print(\'{"tokens": 1}\')',
])
def test_misbehaving_agent_fails_the_step_clearly(project: Path, script: str) -> None:
    write(project, "agent.py", script + "\n")
    write(project, ".chatflow/config.yaml",
          'agents:\n  bot:\n    command: "python3 agent.py"\n')
    write(project, "agented.flow", AGENT_FLOW)
    st, _ = api_run(project, "agented.flow", {"topic": "x"})
    assert st["status"] == "failed"
    assert st["steps"]["write"]["status"] == "failed"
    assert st["steps"]["write"].get("error"), st["steps"]["write"]


def test_unknown_agent_is_a_clear_failure(project: Path) -> None:
    write(project, "agented.flow", AGENT_FLOW)
    r = cf(project, "run", "agented.flow", "-i", "topic=x", "--json")
    assert r.code in (1, 2), r.output
    assert "bot" in r.output


RISKY = """\
flow risky() {
  step r0: shell "echo r0"
  step r59: shell "echo r59" { risk 59 }
  step r60: shell "echo r60" { risk 60 }
  step r100: shell "echo r100" { risk 100 }
  step ok: approve "go?"
}
"""


def _drive_with_approvals(eng: WorkflowEngine, iid: str) -> list[str]:
    """Approve whatever waits, in order; return the steps that waited."""
    waited: list[str] = []
    state = eng.run_until_blocked(iid)
    while state.status == "waiting_approval":
        for step in state.waiting:
            waited.append(step)
            eng.approve(iid, step, by="qa")
        state = eng.resume(iid)
    assert state.status == "succeeded"
    return waited


@pytest.mark.parametrize("backend", BACKENDS)
def test_automation_levels_and_risk_gates(project: Path, backend: str) -> None:
    write(project, "risky.flow", RISKY)
    eng = WorkflowEngine.open(state_url(project, backend), workdir=str(project))
    flow = str(project / "risky.flow")
    waits = {}
    for level in (0, 59, 60, 61, 100):
        iid = eng.start_workflow_instance(flow, automation_level=level).instance_id
        waits[level] = _drive_with_approvals(eng, iid)
    assert waits[0] == ["r0", "r59", "r60", "r100", "ok"]
    assert waits[59] == ["r59", "r60", "r100", "ok"]
    assert waits[60] == ["r60", "r100", "ok"]
    assert waits[61] == ["r100", "ok"]
    assert waits[100] == []
    # at 100 an approve step is approved by automation
    iid = eng.start_workflow_instance(flow, automation_level=100).instance_id
    eng.run_until_blocked(iid)
    assert eng.status(iid).steps["ok"].outputs["approved"] is True


def test_automation_default_from_config_flow_and_flag(project: Path) -> None:
    write(project, ".chatflow/config.yaml", "automation: 30\n")
    write(project, "plain.flow", 'flow plain() { step a: shell "echo a" { risk 40 } }\n')
    write(project, "own.flow",
          'flow own() {\n  automation 50\n  step a: shell "echo a" { risk 40 }\n}\n')
    plain, own, flag, nolevel = cf_many(project, [
        ("run", "plain.flow", "--json"),
        ("run", "own.flow", "--json"),
        ("run", "own.flow", "--automation", "10", "--json"),
        ("run", "plain.flow", "--automation", "100", "--json"),
    ])
    assert plain.code == 3 and plain.json()["steps"]["a"]["status"] == "waiting_approval"
    assert own.code == 0
    assert flag.code == 3
    assert nolevel.code == 0


def test_default_automation_is_100_without_config(project: Path) -> None:
    write(project, "plain.flow",
          'flow plain() {\n  step a: shell "echo a" { risk 99 }\n  step b: approve "ok?"\n}\n')
    code, st = run_json(project, "plain.flow")
    assert code == 0 and st["steps"]["b"]["outputs"]["approved"] is True


# ---------------------------------------------------------------- approve / resume / cancel

def test_approve_errors_are_usage_errors(project: Path) -> None:
    write(project, "gated.flow", GATED)
    code, st = run_json(project, "gated.flow", "--automation", "50")
    assert code == 3
    iid = st["instance_id"]
    not_waiting, unknown_step, unknown_id = cf_many(project, [
        ("approve", iid, "last"),
        ("approve", iid, "nosuch"),
        ("approve", "nosuch-id", "rev"),
    ])
    for r in (not_waiting, unknown_step, unknown_id):
        assert r.code == 2, r.output
        assert r.stderr.startswith("error:"), r.stderr
    ok = cf(project, "approve", iid, "rev", "--by", "ann")
    assert ok.code == 0 and f"chatflow resume {iid}" in ok.output
    # approving twice is refused: the step is no longer waiting
    assert cf(project, "approve", iid, "rev").code == 2
    assert cf(project, "resume", iid).code == 0


def test_cancel_waiting_instance(project: Path) -> None:
    write(project, "gated.flow", GATED)
    code, st = run_json(project, "gated.flow", "--automation", "50")
    assert code == 3
    iid = st["instance_id"]
    assert cf(project, "cancel", iid).code == 0
    after = cf(project, "status", iid, "--json").json()
    assert after["status"] == "cancelled"
    assert statuses(after) == {"first": "succeeded", "rev": "cancelled", "last": "cancelled"}
    assert cf(project, "approve", iid, "rev").code == 2
    assert cf(project, "resume", iid).code == 1
    events = events_of(project, iid)
    assert events[-1]["type"] == "instance_completed"
    assert events[-1]["data"]["status"] == "cancelled"
    assert [e["type"] for e in events].count("instance_completed") == 1


# ---------------------------------------------------------------- unknown ids

def test_unknown_instance_id_every_command(project: Path) -> None:
    sqlite = state_url(project, "sqlite")
    calls = [("status", "nope-1", "--json"), ("history", "nope-1", "--json"),
             ("artifacts", "nope-1", "a"), ("approve", "nope-1", "a", "--reject"),
             ("resume", "nope-1"), ("cancel", "nope-1"),
             ("status", "nope-1", "--state", sqlite), ("approve", "nope-1", "a", "--state", sqlite),
             ("resume", "nope-1", "--state", sqlite)]
    for call, r in zip(calls, cf_many(project, calls), strict=True):
        assert r.code == 2, (call, r.output)
        assert "nope-1" in r.stderr and r.stdout.strip() == "", (call, r.output)
        assert len(r.stderr.strip().splitlines()) == 1, (call, r.stderr)
    assert not (project / ".chatflow").exists() and not (project / "st.db").exists()


def test_malformed_instance_id_is_a_usage_error(project: Path) -> None:
    for bad in ("../evil", ""):
        r = cf(project, "status", bad)
        assert r.code == 2, r.output


# ---------------------------------------------------------------- artifacts

def test_artifacts_of_instance_and_step(project: Path) -> None:
    write(project, "simple.flow", SIMPLE)
    code, st = run_json(project, "simple.flow", "-i", "msg=hello")
    assert code == 0
    iid = st["instance_id"]
    all_, only_a, text = cf_many(project, [("artifacts", iid, "--json"),
                                           ("artifacts", iid, "a", "--json"),
                                           ("artifacts", iid)])
    assert all_.code == 0 and only_a.code == 0
    assert {(x["step"], x["name"]) for x in all_.json()} >= {
        ("a", "stdout"), ("a", "stderr"), ("b", "stdout"), ("b", "stderr")}
    assert {x["step"] for x in only_a.json()} == {"a"}
    stdout = next(x for x in only_a.json() if x["name"] == "stdout")
    assert Path(stdout["path"]).read_text() == "hello\n"
    assert stdout["size"] == len("hello\n")
    assert text.code == 0 and "stdout" in text.stdout


def test_artifacts_of_unknown_step_is_an_error(project: Path) -> None:
    write(project, "simple.flow", SIMPLE)
    iid = run_json(project, "simple.flow")[1]["instance_id"]
    r = cf(project, "artifacts", iid, "nosuch")
    assert r.code == 2 and "nosuch" in r.stderr


# ---------------------------------------------------------------- semantics (§6)

SEMANTICS = """\
flow sem(go: bool = false) -> (skipped_out: str, guarded_code: int, count: int, after_skip: bool) {
  var count: int = 1
  step g when go: shell "echo guarded"
  step uses after g: shell "echo {g.exit_code ?? 99}"
  step bump: set count = count * 10 + 2
  step soft: shell "exit 5" { continue_on_error }
  step next_ after soft: shell "echo ran after soft"
  output skipped_out = uses.stdout
  output guarded_code = g.exit_code ?? -1
  output count = count
  output after_skip = uses.ok
}
"""


def test_when_skip_fields_null_set_and_continue_on_error(project: Path) -> None:
    write(project, "sem.flow", SEMANTICS)
    st, events = api_run(project, "sem.flow")
    assert st["status"] == "succeeded", st
    assert statuses(st) == {"g": "skipped", "uses": "succeeded", "bump": "succeeded",
                            "soft": "failed", "next_": "succeeded"}
    assert st["outputs"] == {"skipped_out": "99\n", "guarded_code": -1, "count": 12,
                             "after_skip": True}
    assert st["steps"]["soft"]["outputs"]["exit_code"] == 5
    st2, _ = api_run(project, "sem.flow", {"go": True})
    assert st2["status"] == "succeeded"
    assert st2["outputs"]["guarded_code"] == 0 and st2["outputs"]["skipped_out"] == "0\n"
    skip = next(e for e in events if e["type"] == "step_completed" and e["step"] == "g")
    assert skip["data"]["status"] == "skipped"


def test_skipped_step_fields_read_as_null(project: Path) -> None:
    write(project, "nul.flow", """\
flow nul() -> (is_null: bool) {
  step g when false: shell "echo never"
  step after_g after g: shell "echo after"
  output is_null = g.stdout == null
}
""")
    st, _ = api_run(project, "nul.flow")
    assert st["status"] == "succeeded", st
    assert st["outputs"] == {"is_null": True}
    assert st["steps"]["after_g"]["status"] == "succeeded"


def test_when_on_non_bool_json_is_a_run_time_error(project: Path) -> None:
    write(project, "w.flow", """\
flow w(j: json = null) {
  step a: shell "echo a"
  step w when j.flag: shell "echo w"
}
""")
    st, _ = api_run(project, "w.flow", {"j": {"flag": "yes"}})
    assert st["steps"]["w"]["status"] == "failed", st["steps"]["w"]
    err = st["steps"]["w"].get("error") or ""
    assert "`w`" in err and "w.flow:3" in err, err


def test_out_field_of_wrong_json_type_fails_the_step_naming_it(project: Path) -> None:
    write(project, "cov.py", 'import json; print(json.dumps({"coverage": "high"}))\n')
    write(project, "o.flow", """\
flow o() -> (cov: float) {
  step unit: shell "python3 cov.py" {
    out coverage: float = json(stdout).coverage ?? 0.0
  }
  output cov = unit.coverage ?? 0.0
}
""")
    st, _ = api_run(project, "o.flow")
    assert st["status"] == "failed"
    err = st["steps"]["unit"]["error"]
    assert "`unit`" in err and "o.flow:2" in err and "float" in err, err


def test_fail_step_fails_instance_with_message(project: Path) -> None:
    write(project, "f.flow", """\
flow f(why: str = "because") {
  step a: shell "echo a"
  step stop: fail "stopping: {why}"
  step never: shell "echo never > never.txt"
}
""")
    st, events = api_run(project, "f.flow", {"why": "tests"})
    assert st["status"] == "failed"
    assert statuses(st) == {"a": "succeeded", "stop": "failed", "never": "cancelled"}
    assert "stopping: tests" in (st.get("error") or "") + st["steps"]["stop"].get("error", "")
    assert not (project / "never.txt").exists()
    last = events[-1]
    assert last["type"] == "instance_completed" and last["data"]["status"] == "failed"


def test_retry_backoff_timing_and_attempts(project: Path) -> None:
    write(project, "r.flow", """\
flow r() -> (tries: int) {
  step flaky: shell "echo {ctx.attempt} >> tries.txt; test {ctx.attempt} -ge 3" {
    retry 3 backoff 200ms
  }
  step never_ok: shell "echo x >> never.txt; exit 1" { retry 1 backoff 50ms continue_on_error }
  output tries = flaky.exit_code
}
""")
    t0 = time.monotonic()
    st, events = api_run(project, "r.flow")
    elapsed = time.monotonic() - t0
    assert st["status"] == "succeeded", st
    assert (project / "tries.txt").read_text().split() == ["1", "2", "3"]
    assert st["steps"]["flaky"]["attempts"] == 3 and st["steps"]["flaky"]["status"] == "succeeded"
    assert st["steps"]["never_ok"]["attempts"] == 2
    assert st["steps"]["never_ok"]["status"] == "failed"
    assert (project / "never.txt").read_text().count("x") == 2
    assert elapsed >= 0.2 + 0.4 + 0.05  # D, 2D for flaky; D for never_ok
    delays = [e["data"].get("delay_ms") for e in events
              if e["type"] == "step_retrying" and e["step"] == "flaky"]
    assert delays == [200, 400]
    assert [e["step"] for e in events if e["type"] == "step_completed"].count("flaky") == 1


def test_a_timed_out_step_fails_the_flow_without_waiting(project: Path) -> None:
    """Through the engine: the step fails at its timeout, the rest is cancelled,
    and nothing the step started writes afterwards (that the whole process
    group dies is checked directly in tests/runtime/test_actions_shell.py)."""
    write(project, "t.flow", """\
flow t() {
  step slow: shell "(sleep 3; echo late > grandchild.txt) & sleep 3; echo late > child.txt" {
    timeout 300ms
  }
  step after_slow: shell "echo never"
}
""")
    t0 = time.monotonic()
    st, _ = api_run(project, "t.flow")
    elapsed = time.monotonic() - t0
    assert st["status"] == "failed"
    assert st["steps"]["slow"]["status"] == "failed"
    assert "time" in (st["steps"]["slow"].get("error") or "").lower()
    assert st["steps"]["after_slow"]["status"] == "cancelled"
    assert elapsed < 2.5, elapsed  # the 3 s sleep was not waited for (slack for a busy machine)
    time.sleep(3.5 - elapsed)  # past the time both would have written their file
    assert not (project / "child.txt").exists()
    assert not (project / "grandchild.txt").exists(), "a grandchild survived the timeout"


def test_python_step_with_arguments(project: Path) -> None:
    mod = "qa_contract_mod"
    write(project, f"{mod}.py", """\
def combine(a, b, items):
    return {"sum": a + b, "n": len(items), "first": items[0]}

def explode(**kwargs):
    raise RuntimeError("exploded with " + ",".join(sorted(kwargs)))
""")
    write(project, "py.flow", f"""\
flow py(x: int = 4) -> (v: json) {{
  step c: python "{mod}:combine" {{ with {{ a: x, b: 10, items: ["p", "q"] }} }}
  step e: python "{mod}:explode" {{ with {{ k: 1 }} continue_on_error }}
  step m: python "no_such_module_qa:f" {{ continue_on_error }}
  output v = c.value
}}
""")
    st, _ = api_run(project, "py.flow", {"x": 5})
    assert st["status"] == "succeeded", st
    assert st["outputs"] == {"v": {"sum": 15, "n": 2, "first": "p"}}
    assert st["steps"]["c"]["outputs"]["ok"] is True
    assert st["steps"]["e"]["status"] == "failed"
    assert "exploded with k" in st["steps"]["e"]["error"]
    assert st["steps"]["m"]["status"] == "failed"
    assert "no_such_module_qa" in st["steps"]["m"]["error"]


# ---------------------------------------------------------------- hostile values

def test_hostile_value_reaches_shell_as_one_argument(project: Path) -> None:
    write(project, "argv.py", ARGV_PY)
    write(project, "h.flow", """\
flow h(v: str, items: list[str] = []) {
  var w: str = ""
  step s: set w = "[{v}]"
  step a: shell "python3 argv.py {v}"
  step b: shell "python3 argv.py pre{v}post {w}"
  step c: shell "printf '%s' {v}"
  step d: shell "python3 argv.py {c.stdout} {items}"
}
""")
    items = json.dumps(["a b", "$(touch pwned)", "`touch pwned`", "*"])
    r = cf(project, "run", "h.flow", "-i", f"v={HOSTILE}", "-i", f"items={items}")
    assert r.code == 0, r.output
    argvs = [json.loads(x) for x in (project / "argv.jsonl").read_text().splitlines()]
    assert argvs == [[HOSTILE], [f"pre{HOSTILE}post", f"[{HOSTILE}]"],
                     [HOSTILE, json.dumps(json.loads(items), separators=(",", ":"))]]
    assert (project / "home" / "canary").read_text() == "still here"
    assert not (project / "pwned").exists() and not (project / "home" / "pwned").exists()


QUOTED_CONTEXTS = 'python3 argv.py \\"{v}\\" \'{v}\' pre{v} \\"a\\"{v}\'b\' \\"x {v} y\\"'


def test_hostile_value_inside_template_quotes_stays_one_argument(project: Path) -> None:
    """Regression for RQ1 (fixed in 543b546): the value lands inside the
    template's own double quotes, single quotes, glued to other text."""
    write(project, "argv.py", ARGV_PY)
    write(project, "q.flow", f'flow q(v: str) {{\n  step a: shell "{QUOTED_CONTEXTS}"\n}}\n')
    payload = ("x\"; touch pwned; echo \"'; touch pwned2; echo ' "
               "$(touch pwned3) `touch pwned4` \\ ${HOME} *\n!")
    r = cf(project, "run", "q.flow", "-i", f"v={payload}")
    assert not list(project.glob("pwned*")), "the shell ran a command injected through an input"
    assert r.code == 0, r.output
    (argv,) = [json.loads(x) for x in (project / "argv.jsonl").read_text().splitlines()]
    assert argv == [payload, payload, f"pre{payload}", f"a{payload}b", f"x {payload} y"]


# ---------------------------------------------------------------- dry run

DRY = """\
flow dry(name: str, go: bool = false) -> (done: bool) {
  var tag: str = "v0"
  step s: set tag = "v1-{name}"
  step a: shell "echo {name} {tag}"
  step g when go: shell "echo guarded"
  step r: shell "echo risky" { risk 70 }
  step ap: approve "Ship {name}?"
  output done = ap.approved ?? false
}
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_dry_run_writes_nothing_and_shows_the_plan(project: Path, backend: str) -> None:
    write(project, "dry.flow", DRY)
    write(project, "simple.flow", SIMPLE)
    url = state_url(project, backend)
    api_run(project, "simple.flow", url=url)  # a non-empty store
    before = tree_digest(state_path(project, backend))
    before_project = sorted(p.name for p in project.iterdir())
    r = cf(project, "run", "dry.flow", "-i", f"name={HOSTILE}", "--automation", "60",
           "--dry-run", "--state", url)
    rj = cf(project, "run", "dry.flow", "-i", "name=y", "--automation", "60", "--dry-run",
            "--json", "--state", url)
    assert r.code == 0 and rj.code == 0, r.output + rj.output
    assert tree_digest(state_path(project, backend)) == before
    assert sorted(p.name for p in project.iterdir()) == before_project
    # the plan, in order, with the fixed command and its bindings, pauses and skips
    out = r.stdout + r.stderr
    order = [out.find(f" {n} ") for n in ("s", "a", "g", "r", "ap")]
    assert all(i >= 0 for i in order) and order == sorted(order), out
    assert 'echo "${cf_name}" "${cf_tag}"\n' in out, out
    assert f"cf_name = {json.dumps(HOSTILE)}\n" in out, out
    assert f"cf_tag = {json.dumps('v1-' + HOSTILE)}\n" in out, out
    plan = {p["step"]: p for p in rj.json()["plan"]}
    assert [p["step"] for p in rj.json()["plan"]] == ["s", "a", "g", "r", "ap"]
    assert plan["a"]["command"] == 'echo "${cf_name}" "${cf_tag}"'
    assert plan["a"]["bindings"] == {"cf_name": "y", "cf_tag": "v1-y"}
    assert plan["g"]["decision"] == "skipped"
    assert plan["r"]["decision"] == "pause" and plan["ap"]["decision"] == "pause"
    assert plan["s"]["decision"] == "run" and plan["a"]["decision"] == "run"
    assert (project / "home" / "canary").read_text() == "still here"


def test_dry_run_on_a_fresh_directory_creates_no_store(project: Path) -> None:
    write(project, "dry.flow", DRY)
    for url in ("", f"sqlite:///{project / 'new.db'}", f"file:{project / 'newdir'}"):
        args = ["run", "dry.flow", "-i", "name=z", "--dry-run"] + (["--state", url] if url else [])
        assert cf(project, *args).code == 0
    assert not (project / ".chatflow").exists()
    assert not (project / "new.db").exists() and not (project / "newdir").exists()


def test_dry_run_shows_when_with_current_values(project: Path) -> None:
    write(project, "dry.flow", DRY)
    r = cf(project, "run", "dry.flow", "-i", "name=y", "--dry-run", "--json")
    g = next(p for p in r.json()["plan"] if p["step"] == "g")
    text = json.dumps(g)
    assert "go" in text and "false" in text.lower(), g


@pytest.mark.parametrize("backend", BACKENDS)
def test_api_dry_run_trigger_next_step_writes_nothing(project: Path, backend: str) -> None:
    write(project, "dry.flow", DRY)
    eng = WorkflowEngine.open(state_url(project, backend), workdir=str(project))
    iid = eng.start_workflow_instance(str(project / "dry.flow"), inputs={"name": "k"},
                                      automation_level=60).instance_id
    eng.trigger_next_step(iid)  # s
    WorkflowEngine.forget()
    before = tree_digest(state_path(project, backend))
    eng = WorkflowEngine.open(state_url(project, backend), workdir=str(project))
    planned = eng.trigger_next_step(iid, dry_run=True)
    assert planned.plan is not None
    steps = [p["step"] for p in planned.plan]
    assert steps[:1] == ["a"] and "s" not in steps
    a = next(p for p in planned.plan if p["step"] == "a")
    assert a["command"] == 'echo "${cf_name}" "${cf_tag}"'
    assert a["bindings"] == {"cf_name": "k", "cf_tag": "v1-k"}   # the committed `tag`
    WorkflowEngine.forget()
    assert tree_digest(state_path(project, backend)) == before


# ---------------------------------------------------------------- Python API

@pytest.mark.parametrize("backend", BACKENDS)
def test_python_api_end_to_end(project: Path, backend: str) -> None:
    write(project, "gated.flow", GATED)
    url = state_url(project, backend)
    eng = WorkflowEngine.open(url, workdir=str(project))
    assert WorkflowEngine.open(url, workdir=str(project)) is eng
    started = eng.start_workflow_instance(f"{project / 'gated.flow'}:gated",
                                          inputs={"name": "api"}, feature_id="F-API",
                                          automation_level=50)
    assert isinstance(started, WorkflowStartResult)
    iid = started.instance_id
    assert started.feature_id == "F-API" and started.automation == 50
    one = eng.trigger_next_step(iid)
    assert one.ran == ["first"]
    assert eng.status(iid).steps["rev"].status in ("pending", "ready")
    blocked = eng.run_until_blocked(iid)
    assert blocked.status == "waiting_approval" and blocked.waiting == ["rev"]
    info = eng.status(iid)
    assert isinstance(info, WorkflowStatusInfo) and info.status == "waiting_approval"
    assert 0 < info.progress < 1 and info.outputs == {}
    feat = eng.get_feature_status("F-API")
    assert feat["feature_id"] == "F-API"
    assert [i["instance_id"] for i in feat["instances"]] == [iid]
    eng.approve(iid, "rev", by="api-user", comment="c")
    done = eng.resume(iid)
    assert done.status == "succeeded" and done.finished
    assert eng.status(iid).outputs == {"ok": True, "who": "api-user", "note": "c"}
    state = eng.state(iid)
    assert state.inputs == {"name": "api"}
    assert state.step_results["first"]["outputs"]["stdout"] == "first api\n"
    events = list(eng.history(iid))
    assert all(isinstance(e, WorkflowHistoryEvent) for e in events)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "instance_started" and events[-1].type == "instance_completed"
    assert events[0].timestamp == events[0].ts
    arts = eng.get_task_artifacts(iid, "first")
    assert {a["name"] for a in arts} >= {"stdout", "stderr"}
    assert all(a["step"] == "first" for a in arts)
    # the same instance is visible from the CLI
    r = cf(project, "status", iid, "--json", "--state", url)
    assert r.code == 0 and r.json()["status"] == "succeeded"


def test_python_api_ir_dict_reject_cancel_and_errors(project: Path) -> None:
    write(project, "gated.flow", GATED)
    ir = json.loads(cf(project, "compile", "gated.flow").stdout)
    eng = WorkflowEngine.open(f"file:{project / 'st'}", workdir=str(project))
    a = eng.start_workflow_instance(ir, automation_level=0).instance_id
    eng.run_until_blocked(a)
    eng.reject(a, "first", by="r", comment="no")
    st = eng.resume(a)
    assert st.status == "failed"
    assert eng.status(a).steps["first"].status == "failed"
    b = eng.start_workflow_instance(ir, automation_level=50).instance_id
    eng.run_until_blocked(b)
    assert eng.cancel(b).status == "cancelled"
    for call in (lambda: eng.status("nope"), lambda: list(eng.history("nope")),
                 lambda: eng.approve("nope", "x", by="q"), lambda: eng.resume("nope"),
                 lambda: eng.cancel("nope"), lambda: eng.get_task_artifacts("nope"),
                 lambda: eng.approve(b, "rev", by="q"),
                 lambda: eng.start_workflow_instance(ir, inputs={"nosuch": 1}),
                 lambda: eng.start_workflow_instance(str(project / "missing.flow"))):
        with pytest.raises(ChatflowError):
            call()
    child = eng.start_workflow_instance(ir, parent_instance_id=a)
    assert child.parent_instance_id == a and child.depth == 1


def test_python_api_threads_never_run_a_step_twice(project: Path) -> None:
    write(project, "lines.flow", """\
flow lines() {
  step a: shell "echo a >> lines.txt; sleep 0.1"
  step b: shell "echo b >> lines.txt; sleep 0.1"
  step c: shell "echo c >> lines.txt"
}
""")
    eng = WorkflowEngine.open(f"sqlite:///{project / 'st.db'}", workdir=str(project))
    iid = eng.start_workflow_instance(str(project / "lines.flow")).instance_id
    errors: list[BaseException] = []

    def drive() -> None:
        try:
            eng.resume(iid)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=drive) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert (project / "lines.txt").read_text().split() == ["a", "b", "c"]
    assert eng.status(iid).status == "succeeded"


# ---------------------------------------------------------------- Ctrl-C, resume

SLOW = """\
flow slow() {
  step a: shell "echo a >> log.txt"
  step b: shell "echo b-start >> log.txt; sleep 0.8; echo b-end >> log.txt"
  step c: shell "echo c >> log.txt"
}
"""


def _run_and_interrupt(project: Path, *args: str, after: float = 0.8) -> tuple[int, str]:
    """Start `chatflow run` in its own session and press Ctrl-C the way a terminal
    does: SIGINT to the whole foreground process group."""
    proc = subprocess.Popen(with_default_sigint([*chatflow_command(), "run", *args]),
                            cwd=project,
                            env=sandbox_env(project), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = project / "log.txt"
        if log.exists() and "b-start" in log.read_text():
            break
        time.sleep(0.02)
    time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert "Traceback" not in out + err, out + err
    return proc.returncode, out + err


def _only_instance(project: Path) -> str:
    eng = WorkflowEngine.open(f"file:{project / '.chatflow'}", workdir=str(project))
    try:
        (inst,) = eng.list_instances()
        return str(inst["instance_id"])
    finally:
        WorkflowEngine.forget()


def test_ctrl_c_then_resume_at_level_100(project: Path) -> None:
    write(project, "slow.flow", SLOW)
    code, _ = _run_and_interrupt(project, "slow.flow")
    assert code == 130
    iid = _only_instance(project)
    r = cf(project, "resume", iid, "--json")
    assert r.code == 0, r.output
    assert r.json()["status"] == "succeeded"
    lines = (project / "log.txt").read_text().split()
    assert lines.count("a") == 1 and lines.count("c") == 1  # completed steps never re-run
    events = events_of(project, iid)
    done = [e["step"] for e in events if e["type"] == "step_completed"]
    assert sorted(done) == ["a", "b", "c"]


def test_ctrl_c_at_level_below_100_holds_step_in_doubt(project: Path) -> None:
    write(project, "slow.flow", SLOW)
    code, _ = _run_and_interrupt(project, "slow.flow", "--automation", "50")
    assert code == 130
    iid = _only_instance(project)
    r = cf(project, "resume", iid, "--json")
    assert r.code == 3, r.output
    b = r.json()["steps"]["b"]
    assert b["status"] == "waiting_approval" and b.get("in_doubt") is True
    assert cf(project, "approve", iid, "b").code == 0
    fin = cf(project, "resume", iid, "--json")
    assert fin.code == 0 and fin.json()["status"] == "succeeded"
    assert (project / "log.txt").read_text().split().count("a") == 1


def test_second_terminal_resume_waits_and_runs_nothing_twice(project: Path) -> None:
    write(project, "l.flow", """\
flow l() {
  step a: shell "echo a >> lines.txt; sleep 1"
  step b: shell "echo b >> lines.txt"
}
""")
    first = subprocess.Popen([*chatflow_command(), "run", "l.flow"], cwd=project,
                             env=sandbox_env(project), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not (project / "lines.txt").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    iid = _only_instance(project)
    second = cf(project, "resume", iid, "--json")
    first.communicate(timeout=20)
    assert first.returncode == 0 and second.code == 0, second.output
    assert second.json()["status"] == "succeeded"
    assert (project / "lines.txt").read_text().split() == ["a", "b"]


def test_ctrl_c_stops_the_running_step(project: Path) -> None:
    write(project, "slow.flow", SLOW)
    code, _ = _run_and_interrupt(project, "slow.flow")
    assert code == 130
    time.sleep(1.0)
    assert "b-end" not in (project / "log.txt").read_text()


# ---------------------------------------------------------------- damaged state

def _waiting_instance(project: Path) -> str:
    write(project, "gated.flow", GATED)
    code, st = run_json(project, "gated.flow", "--automation", "50")
    assert code == 3
    return str(st["instance_id"])


def test_garbage_status_file_loses_nothing(project: Path) -> None:
    iid = _waiting_instance(project)
    status_file = project / ".chatflow" / "instances" / f"{iid}.json"
    status_file.write_text("garbage{{{")
    st = cf(project, "status", iid, "--json")
    assert st.code == 0 and statuses(st.json()) == {
        "first": "succeeded", "rev": "waiting_approval", "last": "pending"}
    rep = cf(project, "repair", iid)
    assert rep.code == 0 and f"{iid}.json" in rep.output
    json.loads(status_file.read_text())
    assert cf(project, "approve", iid, "rev").code == 0
    fin = cf(project, "resume", iid, "--json")
    assert fin.code == 0 and fin.json()["steps"]["first"]["attempts"] == 1


def test_truncated_history_tail_is_repaired_losing_no_completed_step(project: Path) -> None:
    iid = _waiting_instance(project)
    hist = project / ".chatflow" / "instances" / iid / "history.ndjson"
    data = hist.read_bytes()
    hist.write_bytes(data[:-7])  # a torn last line: a commit the snapshot already has
    h = cf(project, "history", iid, "--json")
    assert h.code == 0
    done = [e["step"] for e in h.ndjson() if e["type"] == "step_completed"]
    assert done == ["first"]
    rep = cf(project, "repair", iid)
    assert rep.code == 0 and "history.ndjson" in rep.output
    assert cf(project, "approve", iid, "rev").code == 0
    fin = cf(project, "resume", iid, "--json")
    assert fin.code == 0, fin.output
    events = events_of(project, iid)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))      # never renumbered, never reused (issue 7)
    [lost] = [e for e in events if e["type"] == "history_lost"]
    gone = {s for first, last in lost["data"]["lost_seqs"] for s in range(first, last + 1)}
    assert set(range(1, seqs[-1] + 1)) - set(seqs) == gone
    done = [e["step"] for e in events if e["type"] == "step_completed"]
    assert sorted(done) == ["first", "last", "rev"]


def test_damage_is_reported_by_everyday_commands(project: Path) -> None:
    iid = _waiting_instance(project)
    (project / ".chatflow" / "instances" / f"{iid}.json").write_text("garbage")
    r = cf(project, "status", iid)
    assert "status file" in r.stderr.lower() or "repair" in r.stderr.lower(), r.stderr


def test_garbage_state_json_and_store_files(project: Path) -> None:
    iid = _waiting_instance(project)
    (project / ".chatflow" / "instances" / iid / "state.json").write_text("junk")
    st = cf(project, "status", iid, "--json")
    assert st.code == 0 and statuses(st.json())["first"] == "succeeded"
    store = project / ".chatflow" / "store.json"
    saved = store.read_bytes()
    store.write_text("zz")
    r = cf(project, "list")
    assert r.code in (1, 2) and "store.json" in r.stderr
    store.write_bytes(saved)
    assert cf(project, "status", iid).code == 0


def test_garbage_sqlite_file_is_a_clear_error_and_untouched(project: Path) -> None:
    write(project, "simple.flow", SIMPLE)
    db = project / "bad.db"
    db.write_bytes(b"this is not sqlite at all" * 50)
    before = db.read_bytes()
    url = f"sqlite:///{db}"
    for args in (("list",), ("status", "x"), ("run", "simple.flow"), ("migrate",)):
        r = cf(project, *args, "--state", url)
        assert r.code in (1, 2), (args, r.output)
        assert "bad.db" in r.stderr, r.stderr
    assert db.read_bytes() == before


# ---------------------------------------------------------------- migrate

V1_STATUS: dict[str, Any] = {
    "instance_id": "qa-0007",
    "status": {"flow": "release", "version": "1.0", "status": "failed", "progress": 0.5,
               "current_steps": [], "feature_id": "REL-7", "parent_instance_id": None,
               "depth": 0, "automation": 100,
               "created_at": "2024-05-05T08:00:00.000000Z",
               "updated_at": "2024-05-05T08:03:00.000000Z"},
    "state": {"inputs": {"tag": "v7"}, "variables": {"n": 2},
              "step_results": {
                  "build": {"status": "succeeded", "attempts": 1,
                            "outputs": {"ok": True, "exit_code": 0, "stdout": "built\n",
                                        "stderr": ""}},
                  "publish": {"status": "failed", "attempts": 3,
                              "outputs": {"ok": False, "exit_code": 2, "stdout": "",
                                          "stderr": "denied\n"}}},
              "outputs": {}, "children": []},
    "history": [
        {"seq": 1, "type": "instance_started", "timestamp": "2024-05-05T08:00:00.000000Z",
         "step": None, "data": {"inputs": {"tag": "v7"}}},
        {"seq": 2, "type": "step_completed", "timestamp": "2024-05-05T08:01:00.000000Z",
         "step": "build", "data": {"status": "succeeded"}},
        {"seq": 3, "type": "step_completed", "timestamp": "2024-05-05T08:03:00.000000Z",
         "step": "publish", "data": {"status": "failed"}},
        {"seq": 4, "type": "instance_completed", "timestamp": "2024-05-05T08:03:00.000000Z",
         "step": None, "data": {"status": "failed"}},
    ],
}


def _v1_store(project: Path) -> Path:
    root = project / ".chatflow"
    write(project, ".chatflow/instances/qa-0007.json", json.dumps(V1_STATUS, indent=1))
    write(project, ".chatflow/instances/qa-0007/tasks/build/stdout", "built\n")
    write(project, ".chatflow/.indexes/feature_index.json", json.dumps({"REL-7": ["qa-0007"]}))
    return root


def test_migrate_v1_store_keeps_backup_and_data(project: Path) -> None:
    root = _v1_store(project)
    original = tree_digest(root)
    before = cf(project, "list")
    assert before.code != 0 and "migrate" in before.stderr  # an old store is refused clearly
    r = cf(project, "migrate")
    assert r.code == 0, r.output
    backups = [p for p in project.iterdir() if p.name.startswith(".chatflow") and p != root]
    backups += [p for p in root.iterdir() if "bak" in p.name or "backup" in p.name]
    assert backups, list(project.iterdir())
    assert any(tree_digest(b) == original for b in backups), "backup is not the old tree"
    lst = cf(project, "list", "--feature", "REL-7", "--json")
    assert lst.code == 0
    (inst,) = lst.json()
    assert inst["instance_id"] == "qa-0007" and inst["status"] == "failed"
    events = cf(project, "history", "qa-0007", "--json").ndjson()
    assert [e["type"] for e in events] == ["instance_started", "step_completed",
                                           "step_completed", "instance_completed"]
    assert events[1]["ts"] == "2024-05-05T08:01:00.000000Z"
    arts = cf(project, "artifacts", "qa-0007", "build", "--json")
    assert arts.code == 0 and any(a["name"] == "stdout" for a in arts.json())
    again = cf(project, "migrate")
    assert again.code == 0
    # the migrated store takes new instances
    write(project, "simple.flow", SIMPLE)
    assert cf(project, "run", "simple.flow").code == 0


def test_migrated_instance_status(project: Path) -> None:
    _v1_store(project)
    assert cf(project, "migrate").code == 0
    r = cf(project, "status", "qa-0007", "--json")
    assert r.code == 0, r.output
    st = r.json()
    assert st["status"] == "failed" and st["feature_id"] == "REL-7"
    assert st["steps"]["build"]["status"] == "succeeded"
    assert st["steps"]["publish"]["attempts"] == 3
