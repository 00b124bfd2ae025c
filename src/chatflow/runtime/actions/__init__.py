"""Step actions: concrete values in, `ActionResult` out.

`run_shell`, `run_python` and `run_agent` run one attempt of a step; the
engine evaluates every expression before and records the result after.
`approve`, `call`, `set` and `fail` need the state store, so they live in
the engine, not here.
"""

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
