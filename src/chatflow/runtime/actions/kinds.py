"""The runtime side of the action registry: the `ActionRuntime` contract a
kind implements (render, run, describe for a dry run, cancel), the built-in
kinds' implementations (`shell`, `python`, `agent`; `approve`, `set`, `fail`
and `call` are carried out by the engine), and `runtime_for`, which loads a
kind's implementation from the `runtime` its spec names (`chatflow.plugins`),
once per process. A built-in kind's implementation also fills in its own
values of a step the engine claims (`claim_values`)."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from chatflow.plugins import ActionKind, builtin_kind
from chatflow.runtime.actions.base import ActionContext, ActionResult

if TYPE_CHECKING:
    from chatflow.runtime.evaluator import Scope

__all__ = ["WORKER_KINDS", "ActionRuntime", "builtin_runtime", "runtime_for"]


class ActionRuntime:
    """What a kind does at run time. ChatFlow renders the step's target (a
    TEMPLATE → `str`) and its options (EXPR → JSON values) first, under the
    instance's lock; `render` turns them into what `run` takes (and what a
    dry run shows through `describe`). `run` gets concrete values only and
    returns an `ActionResult` with the kind's fields; it runs in a thread of
    the driver and should return soon after `ctx.cancel` is set. `cancel` is
    called (from another thread) when the step is cancelled while running."""

    worker: ClassVar[bool] = False
    """Whether a `parallel` flow runs the kind's steps in a worker process
    (`runtime/worker.py`, which runs ChatFlow's own kinds only)."""

    def render(self, target: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"target": target, **options}

    def run(self, rendered: dict[str, Any], ctx: ActionContext) -> ActionResult:
        raise NotImplementedError

    def describe(self, rendered: Mapping[str, Any]) -> str:
        target = rendered.get("target")
        return "" if target is None else str(target)

    def cancel(self, ctx: ActionContext) -> None:
        """Stop `run` early (the default: `run` watches `ctx.cancel` itself)."""

    def claim_values(self, action: Mapping[str, Any], options: Mapping[str, Any],
                     scope: Scope, rendered: dict[str, Any]) -> None:
        """A built-in kind's own values of a step the engine claims, put into
        `rendered` (what `run` takes) from the IR `action` and the step's
        `options`, under the instance's lock. Raises `EvalError`. A plugin
        kind's values go through `render` instead (`plugin_steps`)."""


class _Shell(ActionRuntime):
    worker = True
    _bind: Any = None

    def render(self, target: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"command": target or "", "bindings": {}}

    def describe(self, rendered: Mapping[str, Any]) -> str:
        return str(rendered.get("command") or "")

    def claim_values(self, action: Mapping[str, Any], options: Mapping[str, Any],
                     scope: Scope, rendered: dict[str, Any]) -> None:
        bind = self._bind
        if bind is None:  # imported once, not per step (and not in a worker process)
            from chatflow.runtime.shell_bindings import bind_shell

            bind = self._bind = bind_shell
        rendered["command"], rendered["bindings"] = bind(action, scope)

    def run(self, rendered: dict[str, Any], ctx: ActionContext) -> ActionResult:
        from chatflow.runtime.actions.shell import run_shell

        return run_shell(str(rendered["command"]), ctx)


class _Python(ActionRuntime):
    worker = True

    def render(self, target: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"target": target or "", "with": dict(options.get("with") or {})}

    def claim_values(self, action: Mapping[str, Any], options: Mapping[str, Any],
                     scope: Scope, rendered: dict[str, Any]) -> None:
        rendered["target"] = action["target"]
        if "with" in options:
            rendered["with"] = _with(options["with"], scope)

    def run(self, rendered: dict[str, Any], ctx: ActionContext) -> ActionResult:
        from chatflow.runtime.actions.python_action import run_python

        return run_python(str(rendered["target"]), dict(rendered.get("with") or {}), ctx)


class _Agent(ActionRuntime):
    def render(self, target: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"agent": target or "", "prompt": str(options.get("prompt") or ""),
                "with": dict(options.get("with") or {})}

    def describe(self, rendered: Mapping[str, Any]) -> str:
        return f"agent {rendered.get('agent') or ''}"

    def claim_values(self, action: Mapping[str, Any], options: Mapping[str, Any],
                     scope: Scope, rendered: dict[str, Any]) -> None:
        from chatflow.runtime.evaluator import render

        rendered["agent"] = action["agent"]
        if "prompt" in options:
            rendered["prompt"] = render(options["prompt"], scope)
        if "with" in options:
            rendered["with"] = _with(options["with"], scope)

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


def _with(exprs: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    from chatflow.runtime.evaluator import evaluate

    return {k: evaluate(v, scope) for k, v in exprs.items()}


SHELL = _Shell()
PYTHON = _Python()
AGENT = _Agent()

def _worker_kinds() -> frozenset[str]:
    from chatflow.plugins.builtin import BUILTIN

    own = {f"{__name__}:{name}": impl for name, impl in globals().items()
           if isinstance(impl, ActionRuntime)}
    return frozenset(name for name, kind in BUILTIN.items()
                     if kind.runtime in own and own[kind.runtime].worker)


WORKER_KINDS = _worker_kinds()
"""The built-in kinds a `parallel` flow runs in worker processes."""

_LOADED: dict[str, ActionRuntime] = {}
_LOCK = threading.Lock()
_BUILTIN: dict[str, ActionRuntime | None] = {}


def builtin_runtime(name: str) -> ActionRuntime | None:
    """The implementation of ChatFlow's own kind `name` (None for a kind the
    engine carries out itself, or no built-in kind), looked up once."""
    try:
        return _BUILTIN[name]
    except KeyError:
        kind = builtin_kind(name)
        impl = None if kind is None or kind.runtime is None else runtime_for(kind)
        _BUILTIN[name] = impl
        return impl


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
