"""The agent plugin API for plugin authors: implement `Agent.run`, register a
class under the `chatflow.agents` entry-point group. `CommandAgent` is the
built-in adapter (entry point `command`)."""

from chatflow.runtime.actions.agent import (
    ENTRY_POINT_GROUP,
    Agent,
    AgentError,
    AgentRequest,
    AgentResponse,
    CommandAgent,
    register_agent,
)
from chatflow.runtime.actions.base import ActionContext

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActionContext",
    "Agent",
    "AgentError",
    "AgentRequest",
    "AgentResponse",
    "CommandAgent",
    "register_agent",
]
