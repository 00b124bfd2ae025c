"""Plugin kinds' steps at run time: is the kind the IR recorded still
installed, with the same major version (else the step fails with a message
saying what to install, never a traceback); render its target and options
with the evaluator; run it (watching for cancellation); describe it for a dry
run. Any exception a plugin raises becomes the step's error."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import Any

from chatflow.plugins import ActionKind, discovery_problems, find_kind, major
from chatflow.runtime.actions.base import ActionContext, ActionResult
from chatflow.runtime.actions.kinds import ActionRuntime, runtime_for
from chatflow.runtime.evaluator import EvalError, Scope, evaluate, render

__all__ = ["describe_plugin", "describe_with", "is_plugin_action", "plugin_problem",
           "render_plugin", "render_with", "run_plugin", "run_with"]


def is_plugin_action(action: Mapping[str, Any]) -> bool:
    return "plugin" in action


def _recorded(action: Mapping[str, Any]) -> tuple[str, str]:
    info = action.get("plugin") or {}
    return str(info.get("dist") or "unknown"), str(info.get("version") or "0")


def _kind(action: Mapping[str, Any]) -> tuple[ActionKind | None, str | None]:
    """The installed kind for a plugin action, or why there is none."""
    name = str(action["type"])
    dist, version = _recorded(action)
    kind = find_kind(name)
    if kind is None or kind.builtin:
        why = [p for p in discovery_problems() if p.startswith(f"`{name}` from ")]
        return None, (f"the action kind `{name}` is not installed: this flow was compiled "
                      f"with the plugin {dist} {version}; install it "
                      f"(`pip install '{dist}=={major(version)}.*'`) to run steps of this kind"
                      + (f" (an installed plugin was not registered: {why[0]})" if why else ""))
    if kind.dist != dist:
        return None, (f"the action kind `{name}` is provided by {kind.dist} {kind.version}, "
                      f"but this flow was compiled with {dist} {version}; install {dist} "
                      f"instead, or recompile the flow and start a new instance")
    if major(kind.version) != major(version):
        return None, (f"the action kind `{name}` is installed from {kind.dist} {kind.version}, "
                      f"but this flow was compiled with {dist} {version} (another major "
                      f"version); install {dist} {major(version)}.x, or recompile the flow "
                      f"and start a new instance")
    return kind, None


def plugin_problem(action: Mapping[str, Any]) -> str | None:
    """Why a plugin action cannot run here, or None."""
    kind, problem = _kind(action)
    if kind is None:
        return problem
    try:
        runtime_for(kind)
    except LookupError as exc:
        return str(exc)
    return None


def _impl(action: Mapping[str, Any]) -> ActionRuntime:
    kind, problem = _kind(action)
    if kind is None:
        raise LookupError(problem)
    return runtime_for(kind)


def render_plugin(action: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    """The step's target and options evaluated, then the kind's `render`.
    Raises `EvalError` (an expression failed, or the plugin refused a value)
    or `LookupError` (the plugin is not usable)."""
    impl = _impl(action)
    target = render(action["target"], scope) if "target" in action else None
    options = {k: evaluate(v, scope) for k, v in (action.get("options") or {}).items()}
    return render_with(impl, target, options)


def render_with(impl: ActionRuntime, target: str | None,
                options: Mapping[str, Any]) -> dict[str, Any]:
    """`impl.render` on values already evaluated; what it raises becomes an
    `EvalError` with a message (the step's error)."""
    try:
        rendered = impl.render(target, options)
    except Exception as exc:
        raise EvalError(f"the plugin refused the values: {type(exc).__name__}: {exc}") \
            from None
    if not isinstance(rendered, dict):
        raise EvalError("the plugin's render did not return a mapping")
    return rendered


def describe_plugin(action: Mapping[str, Any], scope: Scope) -> str:
    """What a dry run shows for a plugin step (its `describe`)."""
    rendered = render_plugin(action, scope)
    return describe_with(_impl(action), rendered)


def describe_with(impl: ActionRuntime, rendered: Mapping[str, Any]) -> str:
    """`impl.describe`; what it raises becomes an `EvalError`."""
    try:
        return str(impl.describe(rendered))
    except Exception as exc:
        raise EvalError(f"the plugin cannot describe it: {type(exc).__name__}: {exc}") \
            from None


def run_plugin(action: Mapping[str, Any], rendered: dict[str, Any],
               ctx: ActionContext) -> ActionResult:
    """Run the kind's `run`; while it runs, a cancelled step calls its `cancel`."""
    try:
        impl = _impl(action)
    except LookupError as exc:
        return ActionResult(False, {"ok": False}, str(exc))
    return run_with(impl, str(action["type"]), rendered, ctx)


def run_with(impl: ActionRuntime, name: str, rendered: dict[str, Any],
             ctx: ActionContext) -> ActionResult:
    """`impl.run`, its `cancel` called when `ctx.cancel` is set meanwhile;
    what it raises, or returns that is not an `ActionResult`, becomes a
    failed result with a message."""
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if ctx.cancel.wait(0.2):
                with contextlib.suppress(Exception):  # a failing cancel must not stop the driver
                    impl.cancel(ctx)
                return

    watcher = threading.Thread(target=watch, daemon=True, name="chatflow-plugin-cancel")
    watcher.start()
    try:
        res = impl.run(rendered, ctx)
    except Exception as exc:
        return ActionResult(False, {"ok": False}, f"the `{name}` plugin failed: "
                            f"{type(exc).__name__}: {exc}")
    finally:
        done.set()
    if not isinstance(res, ActionResult):
        return ActionResult(False, {"ok": False}, f"the `{name}` plugin returned "
                            f"{type(res).__name__}, not an ActionResult")
    if ctx.cancel.is_set() and not res.cancelled:
        res.cancelled = True
    return res
