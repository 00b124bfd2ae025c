"""Step actions: concrete values in, `ActionResult` out.

`run_shell`, `run_python` and `run_agent` run one attempt of a step; the
engine evaluates every expression before and records the result after.
`approve`, `call`, `set` and `fail` need the state store, so they live in
the engine, not here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatflow.runtime.actions.agent import (
        Agent,
        AgentError,
        AgentRequest,
        AgentResponse,
        CommandAgent,
        register_agent,
        resolve_agent,
        run_agent,
        unregister_agent,
    )
    from chatflow.runtime.actions.base import ActionContext, ActionResult, action_env
    from chatflow.runtime.actions.python_action import run_python
    from chatflow.runtime.actions.shell import run_shell

# Re-exported lazily: importing `actions.base` (every step) must not pay for
# `agent` (importlib.metadata, yaml), ~0.2 s, unless an agent step runs.
_HOMES = {
    "Agent": "agent", "AgentError": "agent", "AgentRequest": "agent",
    "AgentResponse": "agent", "CommandAgent": "agent", "register_agent": "agent",
    "resolve_agent": "agent", "run_agent": "agent", "unregister_agent": "agent",
    "ActionContext": "base", "ActionResult": "base", "action_env": "base",
    "run_python": "python_action", "run_shell": "shell",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ActionContext",
    "ActionResult",
    "Agent",
    "AgentError",
    "AgentRequest",
    "AgentResponse",
    "CommandAgent",
    "action_env",
    "register_agent",
    "resolve_agent",
    "run_agent",
    "run_python",
    "run_shell",
    "unregister_agent",
]
