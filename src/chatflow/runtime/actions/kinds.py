"""The runtime side of the action registry: the `ActionRuntime` contract a
kind implements (render, run, describe for a dry run, cancel), the built-in
kinds' implementations (`shell`, `python`, `agent`; `approve`, `set`, `fail`
and `call` are carried out by the engine), and `runtime_for`, which loads a
kind's implementation from the `runtime` its spec names (`chatflow.plugins`),
once per process."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from typing import Any

from chatflow.plugins import ActionKind
from chatflow.runtime.actions.base import ActionContext, ActionResult

__all__ = ["ActionRuntime", "runtime_for"]


class ActionRuntime:
    """What a kind does at run time. ChatFlow renders the step's target (a
    TEMPLATE → `str`) and its options (EXPR → JSON values) first, under the
    instance's lock; `render` turns them into what `run` takes (and what a
    dry run shows through `describe`). `run` gets concrete values only and
    returns an `ActionResult` with the kind's fields; it runs in a thread of
    the driver and should return soon after `ctx.cancel` is set. `cancel` is
    called (from another thread) when the step is cancelled while running."""

    def render(self, target: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"target": target, **options}

    def run(self, rendered: dict[str, Any], ctx: ActionContext) -> ActionResult:
        raise NotImplementedError

    def describe(self, rendered: Mapping[str, Any]) -> str:
        target = rendered.get("target")
        return "" if target is None else str(target)

    def cancel(self, ctx: ActionContext) -> None:
        """Stop `run` early (the default: `run` watches `ctx.cancel` itself)."""


class _Shell(ActionRuntime):
    def run(self, rendered: dict[str, Any], ctx: ActionContext) -> ActionResult:
        from chatflow.runtime.actions.shell import run_shell

        return run_shell(str(rendered["command"]), ctx)


class _Python(ActionRuntime):
    def run(self, rendered: dict[str, Any], ctx: ActionContext) -> ActionResult:
        from chatflow.runtime.actions.python_action import run_python

        return run_python(str(rendered["target"]), dict(rendered.get("with") or {}), ctx)


class _Agent(ActionRuntime):
    def run(self, rendered: dict[str, Any], ctx: ActionContext) -> ActionResult:
        try:
            from chatflow.runtime.actions import agent as agent_mod
        except ImportError:
            agent_mod = None  # type: ignore[assignment]
        fn: Any = getattr(agent_mod, "run_agent", None)
        if fn is None:
            return ActionResult(False, {"ok": False, "text": "", "tokens": 0},
                                "agent actions are not available in this build")
        res: ActionResult = fn(str(rendered["agent"]), str(rendered.get("prompt") or ""),
                               dict(rendered.get("with") or {}), ctx, ctx.config)
        return res


SHELL = _Shell()
PYTHON = _Python()
AGENT = _Agent()

_LOADED: dict[str, ActionRuntime] = {}
_LOCK = threading.Lock()


def runtime_for(kind: ActionKind) -> ActionRuntime:
    """The kind's implementation (imported once per process). Raises
    `LookupError` with a message for people when it cannot be loaded."""
    ref = kind.runtime
    if ref is None:
        raise LookupError(f"the action kind `{kind.name}` has no run-time implementation")
    impl = _LOADED.get(ref)
    if impl is not None:
        return impl
    with _LOCK:
        module_name, _, attr = ref.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except Exception as exc:
            raise LookupError(f"cannot load `{ref}` (the run-time part of the action kind "
                              f"`{kind.name}`): {type(exc).__name__}: {exc}") from None
        if isinstance(obj, type):
            obj = obj()
        if not callable(getattr(obj, "run", None)):
            raise LookupError(f"`{ref}` (the action kind `{kind.name}`) has no `run` method")
        _LOADED[ref] = obj
        return obj  # type: ignore[no-any-return]
