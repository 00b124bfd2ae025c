"""The `agent` action: the built-in command adapter, the plugin registry
(entry points, config, programmatic registration) and their errors."""

from __future__ import annotations

import json
import shlex
import sys
import time
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from chatflow.runtime import agents as public_api
from chatflow.runtime.actions import (
    ActionContext,
    AgentRequest,
    AgentResponse,
    register_agent,
    run_agent,
    unregister_agent,
)
from chatflow.runtime.actions import agent as agent_mod
from chatflow.runtime.config import AgentConfig, Config

ECHO_AGENT = '''
import json, sys
req = json.load(sys.stdin)
print("log line before the reply")
print(json.dumps({"text": "did: " + req["prompt"] + " " + json.dumps(req["with"])
                  + " " + req["instance_id"] + "/" + req["step"], "tokens": 42}))
'''


def make_ctx(tmp_path: Path, timeout_s: float | None = None) -> ActionContext:
    return ActionContext(instance_id="inst-9", step="design", attempt=1, workdir=tmp_path,
                         task_dir=tmp_path / "tasks" / "design", timeout_s=timeout_s)


def command_config(tmp_path: Path, script: str, name: str = "coder") -> Config:
    path = tmp_path / "agent_script.py"
    path.write_text(script)
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(path))}"
    return Config(agents={name: AgentConfig(name=name, command=command)})


def test_public_module_exports_command_agent() -> None:
    assert public_api.CommandAgent is agent_mod.CommandAgent
    assert agent_mod._entry_points()["command"].value == "chatflow.runtime.agents:CommandAgent"


def test_command_agent_round_trip(tmp_path: Path) -> None:
    config = command_config(tmp_path, ECHO_AGENT)
    result = run_agent("coder", "design F-1", {"k": [1, "x"]}, make_ctx(tmp_path), config)
    assert result.ok, result.error
    assert result.fields == {"ok": True, "text": 'did: design F-1 {"k": [1, "x"]} inst-9/design',
                             "tokens": 42}
    assert result.tokens == 42


def test_command_agent_invalid_json(tmp_path: Path) -> None:
    config = command_config(tmp_path, "print('I am not JSON')\n")
    result = run_agent("coder", "p", {}, make_ctx(tmp_path), config)
    assert not result.ok
    assert result.fields == {"ok": False, "text": "", "tokens": 0}
    assert result.error is not None and "invalid JSON" in result.error
    assert "I am not JSON" in result.error


def test_command_agent_reply_without_text(tmp_path: Path) -> None:
    config = command_config(tmp_path, "print('{\"tokens\": 1}')\n")
    result = run_agent("coder", "p", {}, make_ctx(tmp_path), config)
    assert result.error is not None and "no string `text`" in result.error


def test_command_agent_nonzero_exit_keeps_stderr(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    config = command_config(tmp_path, "import sys\nprint('model overloaded', file=sys.stderr)\n"
                                      "sys.exit(3)\n")
    result = run_agent("coder", "p", {}, ctx, config)
    assert not result.ok
    assert result.error == "agent command exited with code 3: model overloaded"
    assert (ctx.task_dir / "stderr").read_text() == "model overloaded\n"


def test_command_agent_timeout(tmp_path: Path) -> None:
    config = command_config(tmp_path, "import time\ntime.sleep(30)\n")
    started = time.monotonic()
    result = run_agent("coder", "p", {}, make_ctx(tmp_path, timeout_s=0.5), config)
    assert result.timed_out and not result.ok
    assert time.monotonic() - started < 5


def test_command_agent_env_option(tmp_path: Path) -> None:
    script = ("import json, os\nprint(json.dumps({'text': os.environ['MODEL'] + "
              "os.environ['CHATFLOW_STEP'], 'tokens': 0}))\n")
    (tmp_path / "a.py").write_text(script)
    command = f"{shlex.quote(sys.executable)} a.py"
    entry = AgentConfig("x", command=command, options={"env": {"MODEL": "m-"}})
    config = Config(agents={"x": entry})
    result = run_agent("x", "p", {}, make_ctx(tmp_path), config)
    assert result.fields["text"] == "m-design"


def test_unknown_agent(tmp_path: Path) -> None:
    result = run_agent("ghost", "p", {}, make_ctx(tmp_path), Config())
    assert not result.ok
    assert result.error == (
        "no agent named `ghost` (configure it in .chatflow/config.yaml under agents:)")
    assert run_agent("ghost", "p", {}, make_ctx(tmp_path), None).error == result.error


# -- plugins ----------------------------------------------------------------------


class FakeAgent:
    def __init__(self, greeting: str = "hello") -> None:
        self.greeting = greeting

    def run(self, request: AgentRequest, ctx: ActionContext) -> AgentResponse:
        return AgentResponse(f"{self.greeting} {request.prompt} {request.with_}", tokens=7)


class BrokenAgent:
    def run(self, request: AgentRequest, ctx: ActionContext) -> AgentResponse:
        raise RuntimeError("model exploded")


class HangingAgent:
    def run(self, request: AgentRequest, ctx: ActionContext) -> AgentResponse:
        time.sleep(3)
        return AgentResponse("late")


class WrongReply:
    def run(self, request: AgentRequest, ctx: ActionContext) -> Any:
        return {"text": "a dict"}


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> dict[str, EntryPoint]:
    points = {
        name: EntryPoint(name=name, value=f"{__name__}:{cls}", group="chatflow.agents")
        for name, cls in [("fake", "FakeAgent"), ("broken", "BrokenAgent"),
                          ("hanging", "HangingAgent"), ("wrong", "WrongReply"),
                          ("missing", "NoSuchClass")]
    }
    monkeypatch.setattr(agent_mod, "_entry_points", lambda: points)
    monkeypatch.setattr(agent_mod, "_loaded", {})
    return points


def test_plugin_by_entry_point_name(tmp_path: Path, fake_entry_points: Any) -> None:
    result = run_agent("fake", "hi", {"a": 1}, make_ctx(tmp_path), Config())
    assert result.ok
    assert result.fields == {"ok": True, "text": "hello hi {'a': 1}", "tokens": 7}


def test_plugin_named_in_config_with_options(tmp_path: Path, fake_entry_points: Any) -> None:
    config = Config(agents={"reviewer": AgentConfig("reviewer", plugin="fake",
                                                    options={"greeting": "hey"})})
    result = run_agent("reviewer", "p", {}, make_ctx(tmp_path), config)
    assert result.fields["text"] == "hey p {}"


def test_plugin_with_bad_options(tmp_path: Path, fake_entry_points: Any) -> None:
    config = Config(agents={"r": AgentConfig("r", plugin="fake", options={"colour": 1})})
    result = run_agent("r", "p", {}, make_ctx(tmp_path), config)
    assert result.error is not None and "bad options ['colour']" in result.error


def test_config_naming_an_absent_plugin(tmp_path: Path, fake_entry_points: Any) -> None:
    config = Config(agents={"r": AgentConfig("r", plugin="nope")})
    result = run_agent("r", "p", {}, make_ctx(tmp_path), config)
    assert result.error is not None and "names plugin `nope`" in result.error


def test_plugin_that_cannot_load(tmp_path: Path, fake_entry_points: Any) -> None:
    result = run_agent("missing", "p", {}, make_ctx(tmp_path), Config())
    assert result.error is not None and "cannot load agent plugin `missing`" in result.error


def test_plugin_exception_is_reported_with_traceback_saved(
        tmp_path: Path, fake_entry_points: Any) -> None:
    ctx = make_ctx(tmp_path)
    result = run_agent("broken", "p", {}, ctx, Config())
    assert result.error == "agent `broken` failed: RuntimeError: model exploded"
    assert "Traceback" in (ctx.task_dir / "stderr").read_text()


def test_plugin_wrong_reply_type(tmp_path: Path, fake_entry_points: Any) -> None:
    result = run_agent("wrong", "p", {}, make_ctx(tmp_path), Config())
    assert result.error is not None and "not an AgentResponse" in result.error


def test_hanging_plugin_is_abandoned_after_its_timeout(
        tmp_path: Path, fake_entry_points: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent_mod, "_WATCHDOG_SLACK_S", 0.1)
    started = time.monotonic()
    result = run_agent("hanging", "p", {}, make_ctx(tmp_path, timeout_s=0.2), Config())
    assert result.timed_out and not result.ok
    assert time.monotonic() - started < 2


def test_programmatic_registration(tmp_path: Path) -> None:
    register_agent("inline", lambda: FakeAgent("yo"))
    try:
        result = run_agent("inline", "p", {}, make_ctx(tmp_path), Config())
        assert result.fields["text"] == "yo p {}"
    finally:
        unregister_agent("inline")


def test_json_payload_shape(tmp_path: Path) -> None:
    script = "import sys, json\nreq = json.load(sys.stdin)\n" \
             "print(json.dumps({'text': json.dumps(sorted(req)), 'tokens': 0}))\n"
    result = run_agent("coder", "p", {}, make_ctx(tmp_path), command_config(tmp_path, script))
    assert json.loads(result.fields["text"]) == ["instance_id", "prompt", "step", "with"]
