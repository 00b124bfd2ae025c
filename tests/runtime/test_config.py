"""`.chatflow/config.yaml`: loading, checking, and the state URL precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatflow.diagnostics import ChatflowError, UsageError
from chatflow.runtime.config import (
    DEFAULT_STATE_URL,
    AgentConfig,
    Config,
    load_config,
    resolve_state_url,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".chatflow" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def bad(tmp_path: Path, text: str) -> str:
    with pytest.raises(ChatflowError) as info:
        load_config(write(tmp_path, text))
    assert isinstance(info.value, UsageError)
    return info.value.message


def test_missing_or_empty_config_gives_defaults(tmp_path: Path) -> None:
    assert load_config(None) == Config()
    assert load_config(tmp_path / "nope.yaml") == Config()
    path = write(tmp_path, "# nothing yet\n")
    assert load_config(path) == Config(path=path)


def test_full_config(tmp_path: Path) -> None:
    path = write(tmp_path, """
state: sqlite:///state.db
automation: 60
max_depth: 4
agents:
  chatcoder: {command: "python agent.py", env: {MODEL: small}}
  reviewer: {plugin: my-plugin, temperature: 0}
""")
    config = load_config(path)
    assert config.state == "sqlite:///state.db"
    assert config.automation == 60
    assert config.max_depth == 4
    assert config.agents == {
        "chatcoder": AgentConfig("chatcoder", command="python agent.py",
                                 options={"env": {"MODEL": "small"}}),
        "reviewer": AgentConfig("reviewer", plugin="my-plugin", options={"temperature": 0}),
    }


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    message = bad(tmp_path, "state: file:x\nagents: [unclosed\n")
    assert "config.yaml:3:1: invalid YAML" in message


@pytest.mark.parametrize(("text", "expected"), [
    ("- a\n- b\n", "expected a mapping at the top, got a list"),
    ("automaton: 5\n", "unknown key `automaton`"),
    ("automation: high\n", '`automation` must be an int from 0 to 100, got str "high"'),
    ("automation: 101\n", "got int 101"),
    ("automation: true\n", "got bool true"),
    ("max_depth: -1\n", "`max_depth` must be an int"),
    ("state: 5\n", "`state` must be a state URL"),
    ("agents: [a]\n", "`agents` must be a mapping"),
    ("agents: {x: cmd}\n", "`agents.x` must be a mapping with `command` or `plugin`"),
    ("agents: {x: {}}\n", "`agents.x` needs exactly one of `command` or `plugin`"),
    ("agents: {x: {command: a, plugin: b}}\n", "needs exactly one of"),
    ("agents: {x: {command: ''}}\n", "`agents.x`.command must be a non-empty string"),
    ("agents: {x: {command: a, timeout: 3}}\n", "unknown option `timeout`"),
    ("agents: {x: {command: a, env: [1]}}\n", "`agents.x`.env must map names to strings"),
])
def test_bad_values_are_reported(tmp_path: Path, text: str, expected: str) -> None:
    message = bad(tmp_path, text)
    assert message.startswith(str(tmp_path / ".chatflow" / "config.yaml"))
    assert expected in message


def test_state_url_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHATFLOW_STATE", raising=False)
    assert resolve_state_url(None, tmp_path) == DEFAULT_STATE_URL == "file:.chatflow"
    write(tmp_path, "state: sqlite:///from-config.db\n")
    assert resolve_state_url(None, tmp_path) == "sqlite:///from-config.db"
    monkeypatch.setenv("CHATFLOW_STATE", "file:/from-env")
    assert resolve_state_url(None, tmp_path) == "file:/from-env"
    assert resolve_state_url("sqlite:///flag.db", tmp_path) == "sqlite:///flag.db"


def test_flag_wins_even_over_a_broken_config(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHATFLOW_STATE", raising=False)
    write(tmp_path, "state: [\n")
    assert resolve_state_url("file:x", tmp_path) == "file:x"
    with pytest.raises(ChatflowError):
        resolve_state_url(None, tmp_path)
