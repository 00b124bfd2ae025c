"""The hand-over between the engine and the code that runs actions: the
`Claim` (a step committed `running`, with its rendered values) and the
`ActionOutcome` that comes back.

It lives outside `runtime/engine/` so that `step_actions.py` (and the action
modules) can use both types without importing the engine package, which
imports them: no import cycle.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Claim:
    """A step this engine committed as `running` and now executes unlocked."""

    instance_id: str
    step: str
    action: dict[str, Any]
    options: dict[str, Any]
    attempt: int
    owner: str
    rendered: dict[str, Any] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)
    """Set to kill the action (cancel, fail-fast, quota stop)."""
    strategy: str = "sequential"  # the flow's `parallelism`


@dataclass
class ActionOutcome:
    """What running an action gave: success, its fields, an error message."""

    ok: bool
    fields: dict[str, Any]
    error: str | None = None
    tokens: int = 0
    cpu_s: float = 0.0
    pause: bool = False  # a call step whose child waits for a person
    depth_exceeded: bool = False
    depth: int = 0
    limit: int = 0
