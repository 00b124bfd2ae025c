"""Issue 7 item 0: the six quoting contexts in which an input value ran as a
command, each a regression through the real engine, all of them once through
the installed `chatflow run`; plus a version-1 IR pinned in a store (an
instance started by an older chatflow) that resumes, and `--dry-run`.

Every hostile value is a canary: had it run, a file would appear in a
throw-away directory (`$CANARY`), which the tests assert stays empty.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from contract_helpers import cf, write

from chatflow import WorkflowEngine

# newlines, both quotes, `$( )`, backticks, the here-document delimiter, `;`, `}`, `)`, `#`
PAYLOAD = ("a\"b'c $(touch \"$CANARY/p1\") `touch \"$CANARY/p2\"`\nEOF\n"
           "touch \"$CANARY/p3\"\n;} ) # $((1+1)) ${HOME}\n\n")
FLAT = PAYLOAD.rstrip("\n")

# (step, template as written in a .flow string, what the probe file must hold)
CONTEXTS = [
    ("nested_dquote_word",   # echo "${UNSET:-"{v}"}"
     r"printf '%s' \"$\{UNSET:-\"{v}\"\}\" > o1", PAYLOAD),
    ("backticks_in_heredoc",
     r"cat > o2 <<EOF\n`printf '%s' {v}`\nEOF\n", FLAT + "\n"),
    ("dquote_in_backticks",  # `printf '%s' "{v}"`
     r"x=`printf '%s' \"{v}\"`; printf '%s' \"$x\" > o3", FLAT),
    ("case_in_dollar_paren",  # "$(case x in x) … {v};; esac)"
     r"printf '%s' \"$(case x in x) printf '%s' {v};; esac)\" > o4", FLAT),
    ("subst_in_heredoc",      # $(echo {v}) inside a here-document
     r"cat > o5 <<EOF\n$(printf '%s' {v})\nEOF\n", FLAT + "\n"),
    ("shift_not_heredoc",     # `<<` inside $(( )) and ${…} is no here-document
     r"x=$(( 1 << 2 )); y=$\{X:-<<EOF\}\nprintf '%s' {v} > o6", PAYLOAD),
]


def _flow(contexts: list[tuple[str, str, str]]) -> str:
    steps = "\n".join(f'  step {name}: shell "{tpl}"' for name, tpl, _ in contexts)
    return f"flow f(v: str) {{\n{steps}\n}}\n"


def _check(project: Path, canary: Path, contexts: list[tuple[str, str, str]]) -> None:
    assert list(canary.iterdir()) == [], "a canary command in the value ran"
    for k, (name, _tpl, expected) in enumerate(contexts, 1):
        idx = [c[0] for c in CONTEXTS].index(name) + 1
        got = (project / f"o{idx}").read_text()
        assert got == expected, (k, name, got)


@pytest.fixture
def canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "canary"
    d.mkdir()
    monkeypatch.setenv("CANARY", str(d))
    return d


@pytest.mark.parametrize("context", CONTEXTS, ids=[c[0] for c in CONTEXTS])
def test_issue_context_through_the_engine(tmp_path: Path, canary: Path,
                                          context: tuple[str, str, str]) -> None:
    project = tmp_path / "p"
    project.mkdir()
    write(project, "f.flow", _flow([context]))
    eng = WorkflowEngine.open(f"file:{project / '.chatflow'}", workdir=str(project))
    try:
        iid = eng.start_workflow_instance(str(project / "f.flow"),
                                          inputs={"v": PAYLOAD}).instance_id
        eng.run_until_blocked(iid)
        st = eng.status(iid).to_dict()
        assert st["status"] == "succeeded", st
        started = [e.to_dict() for e in eng.history(iid) if e.type == "step_started"]
        # the history records the fixed text and the value, apart
        assert started[0]["data"]["bindings"] == {"cf_v": PAYLOAD}
        assert "touch" not in started[0]["data"]["command"]
    finally:
        WorkflowEngine.forget()
    _check(project, canary, [context])


def test_all_issue_contexts_through_the_installed_cli(tmp_path: Path, canary: Path) -> None:
    write(tmp_path, "f.flow", _flow(CONTEXTS))
    r = cf(tmp_path, "run", "f.flow", "-i", f"v={PAYLOAD}", "--json",
           env={"CANARY": str(canary)})
    assert r.code == 0, r.output
    assert json.loads(r.stdout)["status"] == "succeeded"
    _check(tmp_path, canary, CONTEXTS)


def test_dry_run_shows_the_fixed_command_and_its_bindings(tmp_path: Path, canary: Path) -> None:
    write(tmp_path, "f.flow", 'flow f(v: str, n: int) {\n'
          '  step a: shell "echo \\"$\\{UNSET:-\\"{v}\\"\\}\\" $(( {n} + 1 ))"\n'
          '  step b after a: shell "sh -c \'echo {a.stdout}\'"\n}\n')
    r = cf(tmp_path, "run", "f.flow", "-i", "v=$(touch \"$CANARY/p\")", "-i", "n=41",
           "--dry-run", env={"CANARY": str(canary)})
    assert r.code == 0, r.output
    assert r.stdout.splitlines()[1:] == [
        '  1. a                    run        shell    echo "${UNSET:-"${cf_v}"}" '
        '$(( ${cf_n} + 1 ))',
        '      cf_n = "41"',
        '      cf_v = "$(touch \\"$CANARY/p\\")"',
        "  2. b                    run        shell    sh -c 'echo \"${cf_a_stdout}\"'",
        "      cf_a_stdout = (known at run time)",
    ]
    rj = cf(tmp_path, "run", "f.flow", "-i", "v=x", "-i", "n=1", "--dry-run", "--json")
    a = json.loads(rj.stdout)["plan"][0]
    assert a["bindings"] == {"cf_n": "1", "cf_v": "x"}
    assert list(canary.iterdir()) == []


# A version-1 IR as chatflow 0.x pinned it: a shell step's command is a template.
V1_IR = {
    "ir_version": 1, "entry": "old",
    "flows": {"old": {
        "name": "old", "params": [{"name": "v", "type": "str"}], "outputs": [],
        "settings": {}, "vars": [],
        "nodes": [
            {"id": "gate", "kind": "step", "parent": None, "deps": [], "when": None,
             "optional": False, "fields": {"approved": "bool", "by": "str", "comment": "str"},
             "action": {"type": "approve", "message": {"op": "fmt", "args": [{"lit": "go?"}]}},
             "options": {}},
            {"id": "s", "kind": "step", "parent": None, "deps": ["gate"], "when": None,
             "optional": False,
             "fields": {"ok": "bool", "exit_code": "int", "stdout": "str", "stderr": "str"},
             "action": {"type": "shell", "command": {"op": "fmt", "args": [
                 {"lit": "printf '%s' \"${UNSET:-\""}, {"param": "v"},
                 {"lit": "\"}\" > out.txt"}]}},
             "options": {}},
            {"id": "t", "kind": "step", "parent": None, "deps": ["s"], "when": None,
             "optional": False,
             "fields": {"ok": "bool", "exit_code": "int", "stdout": "str", "stderr": "str"},
             "action": {"type": "shell", "command": {"op": "fmt", "args": [
                 {"lit": "cat <<"}, {"param": "v"}, {"lit": "\nx\n"}]}},
             "options": {"continue_on_error": True}},
        ]}},
}


def test_an_instance_pinned_to_version_1_ir_resumes(tmp_path: Path, canary: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Started (and pinned) with IR version 1, as an older chatflow did; this
    chatflow resumes it, placing the old template's holes the same way the
    compiler does now. A template that cannot be placed fails its step only."""
    from chatflow.compiler import ir_upgrade
    from chatflow.runtime.engine import Engine
    from chatflow.runtime.store import open_store

    url = f"file:{tmp_path / 'st'}"
    old = Engine(open_store(url), workdir=str(tmp_path))
    with monkeypatch.context() as m:  # an older chatflow pinned the IR as it was
        m.setattr(ir_upgrade, "upgrade_ir", lambda doc: doc)
        iid = old.start(json.loads(json.dumps(V1_IR)), inputs={"v": PAYLOAD},
                        automation=50).instance_id
        old.drive(iid)   # up to the approval, before any shell step
    old.store.close()
    pinned = next((tmp_path / "st").rglob("schemas/*"))
    assert json.loads(pinned.read_text())["ir_version"] == 1
    assert cf(tmp_path, "approve", iid, "gate", "--state", url).code == 0
    r = cf(tmp_path, "resume", iid, "--state", url, "--json", env={"CANARY": str(canary)})
    assert r.code == 0, r.output
    st = json.loads(r.stdout)
    assert st["steps"]["s"]["status"] == "succeeded"
    assert (tmp_path / "out.txt").read_text() == PAYLOAD
    assert st["steps"]["t"]["status"] == "failed"
    assert "here-document's delimiter" in json.dumps(st["steps"]["t"])
    assert list(canary.iterdir()) == []
