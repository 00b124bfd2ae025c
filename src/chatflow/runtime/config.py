"""`.chatflow/config.yaml`: the project's runtime settings, checked on load.

```yaml
state: sqlite:///.chatflow/state.db   # state URL (CHATFLOW_STATE and --state win)
automation: 60                        # default automation level, 0..100
max_depth: 8                          # default bound on nested `call`s
agents:
  chatcoder: {command: "python scripts/agent.py", env: {MODEL: small}}
  reviewer: {plugin: "my-entry-point", temperature: 0}
```

Precedence of the state URL: `--state` flag > `CHATFLOW_STATE` > `state:` in
`./.chatflow/config.yaml` > `file:.chatflow`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from chatflow.diagnostics import UsageError

if TYPE_CHECKING:
    from chatflow.compiler.api import AgentCatalog

__all__ = [
    "CONFIG_RELPATH",
    "DEFAULT_STATE_URL",
    "STATE_ENV",
    "AgentConfig",
    "Config",
    "agent_catalog",
    "load_config",
    "resolve_state_url",
]

DEFAULT_STATE_URL = "file:.chatflow"
STATE_ENV = "CHATFLOW_STATE"
CONFIG_RELPATH = Path(".chatflow") / "config.yaml"

_KEYS = ("state", "automation", "max_depth", "agents")


@dataclass(frozen=True)
class AgentConfig:
    """One entry under `agents:`: either a `command` for the built-in adapter,
    or a `plugin` entry-point name; every other key is passed to the agent."""

    name: str
    command: str | None = None
    plugin: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    path: Path | None = None            # where it was loaded from (None: defaults)
    state: str | None = None
    automation: int | None = None
    max_depth: int | None = None
    agents: dict[str, AgentConfig] = field(default_factory=dict)


def load_config(path: Path | None) -> Config:
    """Load and check a config file; a missing file (or None) gives the defaults."""
    if path is None or not path.exists():
        return Config(path=None)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read config: {exc}") from None
    import yaml  # only when there is a file to read

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f":{mark.line + 1}:{mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise UsageError(f"{path}{where}: invalid YAML: {problem}") from None
    if data is None:
        return Config(path=path)
    if not isinstance(data, dict):
        _bad(path, f"expected a mapping at the top, got {_kind(data)}")
    for key in data:
        if key not in _KEYS:
            _bad(path, f"unknown key `{key}` (known keys: {', '.join(_KEYS)})")
    state = data.get("state")
    if state is not None and (not isinstance(state, str) or not state.strip()):
        _bad(path, f"`state` must be a state URL like `file:.chatflow`, got {_kind(state)}")
    automation = _int_in(path, data, "automation", 0, 100)
    max_depth = _int_in(path, data, "max_depth", 0, 1000)
    return Config(path=path, state=state, automation=automation, max_depth=max_depth,
                  agents=_agents(path, data.get("agents")))


def resolve_state_url(flag: str | None, cwd: Path) -> str:
    """flag > $CHATFLOW_STATE > `state:` in `<cwd>/.chatflow/config.yaml` > default."""
    if flag:
        return flag
    env = os.environ.get(STATE_ENV)
    if env:
        return env
    config = load_config(cwd / CONFIG_RELPATH)
    return config.state or DEFAULT_STATE_URL


def agent_catalog(config: Config | None) -> AgentCatalog:
    """The agents a run with `config` can find (`resolve_agent`'s order), for
    the compiler's W0115 check (`chatflow lint`, `chatflow run --dry-run`): the
    `agents:` entries, then the agents registered in this process or by an
    installed entry point — looked up only if a name needs them, so a lint
    whose agents the config defines imports no agent machinery."""
    from chatflow.compiler.api import AgentCatalog

    configured: dict[str, str | None] = {}
    shown: str | None = None
    if config is not None:
        if config.path is not None:
            shown = os.path.relpath(config.path)
        elif config.agents:
            shown = "the configuration"
        for name, entry in config.agents.items():
            configured[name] = None if entry.command is not None else (entry.plugin or name)

    def installed() -> set[str]:
        from chatflow.runtime.actions.agent import installed_agent_names

        return installed_agent_names()

    return AgentCatalog(shown, configured, installed)


def _agents(path: Path, raw: Any) -> dict[str, AgentConfig]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        _bad(path, f"`agents` must be a mapping of agent names, got {_kind(raw)}")
    agents: dict[str, AgentConfig] = {}
    for name, entry in raw.items():
        where = f"`agents.{name}`"
        if not isinstance(name, str):
            _bad(path, f"agent names must be strings, got {_kind(name)}")
        if not isinstance(entry, dict):
            _bad(path, f"{where} must be a mapping with `command` or `plugin`, got {_kind(entry)}")
        options = {str(k): v for k, v in entry.items() if k not in ("command", "plugin")}
        command, plugin = entry.get("command"), entry.get("plugin")
        if (command is None) == (plugin is None):
            _bad(path, f"{where} needs exactly one of `command` or `plugin`")
        for key, value in (("command", command), ("plugin", plugin)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                _bad(path, f"{where}.{key} must be a non-empty string, got {_kind(value)}")
        if command is not None:
            env = options.get("env")
            if env is not None and not (
                isinstance(env, dict) and all(isinstance(k, str) for k in env)
                and all(isinstance(v, str | int | float | bool) for v in env.values())
            ):
                _bad(path, f"{where}.env must map names to strings")
            unknown = sorted(set(options) - {"env"})
            if unknown:
                _bad(path, f"{where}: unknown option `{unknown[0]}` for a command agent "
                           "(known: command, env)")
        agents[name] = AgentConfig(name=name, command=command, plugin=plugin, options=options)
    return agents


def _int_in(path: Path, data: dict[Any, Any], key: str, lo: int, hi: int) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        _bad(path, f"`{key}` must be an int from {lo} to {hi}, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"bool {str(value).lower()}"
    if isinstance(value, int | float):
        return f"{type(value).__name__} {value}"
    if isinstance(value, str):
        return f'str "{value}"' if len(value) < 60 else "a long string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _bad(path: Path, problem: str) -> NoReturn:
    raise UsageError(f"{path}: {problem}")
