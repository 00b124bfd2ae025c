"""`agent_catalog(config)`: the agents the runtime can find, for W0115. It must
agree with `resolve_agent`: lint warns about a name exactly when a run could
not find that agent."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatflow.runtime.actions import agent as agent_mod
from chatflow.runtime.actions.agent import (
    AgentError,
    AgentResponse,
    register_agent,
    resolve_agent,
    unregister_agent,
)
from chatflow.runtime.config import AgentConfig, Config, agent_catalog


class QuietAgent:
    def run(self, request: Any, ctx: Any) -> AgentResponse:
        return AgentResponse("ok", 1)


POINTS = {name: EntryPoint(name=name, value=f"{__name__}:QuietAgent", group="chatflow.agents")
          for name in ("command", "claude", "acme")}
POINTS["command"] = EntryPoint(name="command", value="chatflow.runtime.agents:CommandAgent",
                               group="chatflow.agents")
NAMES = ["chatcoder", "claude", "acme", "reviewer", "command", "inline"]


@pytest.fixture(autouse=True)
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent_mod, "_entry_points", lambda: POINTS)
    monkeypatch.setattr(agent_mod, "_loaded", {})


def entry(name: str, kind: str) -> AgentConfig:
    if kind == "command":
        return AgentConfig(name, command="python3 agent.py")
    return AgentConfig(name, plugin=kind)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(NAMES),
                       st.sampled_from(["command", "claude", "acme", "not-installed"]),
                       max_size=4),
       st.sampled_from(NAMES), st.booleans())
def test_the_catalog_agrees_with_resolve_agent(entries: dict[str, str], name: str,
                                               registered: bool) -> None:
    config = Config(agents={n: entry(n, kind) for n, kind in entries.items()})
    if registered:
        register_agent("inline", QuietAgent)
    try:
        try:
            resolve_agent(name, config)
            runs = True
        except AgentError:
            runs = False
        assert (agent_catalog(config).problem(name) is None) is runs, (entries, name)
    finally:
        unregister_agent("inline")


def test_the_config_file_is_named_relative_to_the_working_directory(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatflow.runtime.config import CONFIG_RELPATH, load_config

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".chatflow").mkdir()
    (tmp_path / CONFIG_RELPATH).write_text("agents:\n  planner: {command: x}\n")
    cat = agent_catalog(load_config(tmp_path / CONFIG_RELPATH))
    assert cat.config == ".chatflow/config.yaml"
    assert cat.problem("planner") is None
    found = cat.problem("planer")
    assert found is not None and found[1] == "did you mean `planner`?"


def test_no_config_file() -> None:
    cat = agent_catalog(Config(path=None))
    assert cat.config is None
    assert cat.problem("claude") is None  # an installed plugin
    assert cat.problem("chatcoder") is not None
