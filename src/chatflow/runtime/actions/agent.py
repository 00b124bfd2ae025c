"""The `agent` action: the agent plugin interface, the registry that finds an
agent by name, and the built-in `command` adapter.

Finding `agent "x"`: an `agents: {x: ...}` entry in `.chatflow/config.yaml`
(`command:` uses `CommandAgent`, `plugin:` names an entry point), else an
agent registered with `register_agent`, else an entry point named `x` in the
group `chatflow.agents`. A plugin is a class or factory called with the
entry's other options as keyword arguments; what it returns has a `run`
method (the `Agent` protocol).
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from chatflow.runtime.actions.base import ActionContext, ActionResult, action_env, failure_text
from chatflow.runtime.actions.process import run_process

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from chatflow.runtime.config import AgentConfig, Config

__all__ = [
    "ENTRY_POINT_GROUP",
    "Agent",
    "AgentError",
    "AgentRequest",
    "AgentResponse",
    "CommandAgent",
    "installed_agent_names",
    "register_agent",
    "resolve_agent",
    "run_agent",
    "unregister_agent",
]

ENTRY_POINT_GROUP = "chatflow.agents"

_WATCHDOG_SLACK_S = 5.0
"""How long past its timeout an in-process agent may run before it is abandoned."""


@dataclass(frozen=True)
class AgentRequest:
    prompt: str
    with_: dict[str, Any]
    instance_id: str
    step: str


@dataclass(frozen=True)
class AgentResponse:
    text: str
    tokens: int = 0
    cpu_s: float = 0.0


class AgentError(Exception):
    """An agent failed in a way it can explain; `str()` is shown to the user."""

    def __init__(self, message: str, *, timed_out: bool = False, cancelled: bool = False,
                 cpu_s: float = 0.0) -> None:
        super().__init__(message)
        self.timed_out = timed_out
        self.cancelled = cancelled
        self.cpu_s = cpu_s


@runtime_checkable
class Agent(Protocol):
    def run(self, request: AgentRequest, ctx: ActionContext) -> AgentResponse: ...


class CommandAgent:
    """Runs a command (via `/bin/sh -c`, in its own process group) that reads
    `{"prompt", "with", "instance_id", "step"}` as JSON on stdin and prints
    `{"text": "...", "tokens": N}` on stdout (the whole output, or its last
    line). Its stdout and stderr are kept in the task directory."""

    def __init__(self, command: str | None = None, env: dict[str, Any] | None = None) -> None:
        self.command = command
        self.env = {str(k): _env_text(v) for k, v in (env or {}).items()}

    def run(self, request: AgentRequest, ctx: ActionContext) -> AgentResponse:
        if not self.command:
            raise AgentError(
                "the `command` agent needs a `command` option in .chatflow/config.yaml")
        payload = json.dumps(
            {"prompt": request.prompt, "with": request.with_,
             "instance_id": request.instance_id, "step": request.step},
            ensure_ascii=False, allow_nan=False,
        ).encode()
        outcome = run_process(
            ["/bin/sh", "-c", self.command],
            cwd=ctx.workdir, env=action_env(ctx, self.env), out_dir=ctx.task_dir,
            stdin_data=payload, timeout_s=ctx.timeout_s, cancel=ctx.cancel,
        )
        if outcome.start_error is not None:
            raise AgentError(outcome.start_error)
        killed = failure_text(outcome.timed_out, outcome.cancelled, ctx.timeout_s)
        if killed is not None:
            raise AgentError(f"agent command {killed}", timed_out=outcome.timed_out,
                             cancelled=outcome.cancelled, cpu_s=outcome.cpu_s)
        if outcome.exit_code != 0:
            raise AgentError(
                f"agent command exited with code {outcome.exit_code}{_last_line(outcome.stderr)}",
                cpu_s=outcome.cpu_s)
        reply = _parse_reply(outcome.stdout)
        return AgentResponse(reply[0], reply[1], cpu_s=outcome.cpu_s)


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _last_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return f": {lines[-1][:200]}" if lines else ""


def _parse_reply(stdout: str) -> tuple[str, int]:
    expected = 'expected a JSON object {"text": "...", "tokens": N} on stdout'
    candidates = [stdout.strip()]
    lines = [line for line in stdout.strip().splitlines() if line.strip()]
    if len(lines) > 1:
        candidates.append(lines[-1].strip())
    reply: Any = None
    for text in candidates:
        try:
            reply = json.loads(text)
            break
        except ValueError:
            continue
    else:
        got = stdout.strip()[:80] or "nothing"
        raise AgentError(f"agent command printed invalid JSON ({expected}, got {got!r})")
    if not isinstance(reply, dict) or not isinstance(reply.get("text"), str):
        raise AgentError(f"agent command reply has no string `text` ({expected})")
    tokens = reply.get("tokens", 0)
    if tokens is None:
        tokens = 0
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
        raise AgentError(f"agent command reply has a bad `tokens` value {tokens!r} ({expected})")
    return reply["text"], tokens


# --------------------------------------------------------------------------
# registry

AgentFactory = Callable[..., Any]

_registered: dict[str, AgentFactory] = {}
_loaded: dict[str, AgentFactory] = {}
_lock = threading.Lock()
_entry_point_cache: dict[str, EntryPoint] | None = None


def register_agent(name: str, factory: AgentFactory) -> None:
    """Register an agent class or factory under `name` (for embedding and tests)."""
    _registered[name] = factory


def unregister_agent(name: str) -> None:
    _registered.pop(name, None)


def _entry_points() -> dict[str, EntryPoint]:
    """Installed agent entry points by name, read once per process."""
    global _entry_point_cache
    with _lock:
        if _entry_point_cache is None:
            from importlib.metadata import entry_points  # slow to import: only when needed

            _entry_point_cache = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        return _entry_point_cache


def installed_agent_names() -> set[str]:
    """Names `resolve_agent` finds without configuration: agents registered in
    this process and installed `chatflow.agents` entry points."""
    return {*_registered, *_entry_points()}


def _load_plugin(name: str) -> AgentFactory | None:
    if name in _loaded:
        return _loaded[name]
    ep = _entry_points().get(name)
    if ep is None:
        return None
    try:
        factory: AgentFactory = ep.load()
    except Exception as exc:
        raise AgentError(f"cannot load agent plugin `{name}` ({ep.value}): "
                         f"{type(exc).__name__}: {exc}") from None
    _loaded[name] = factory
    return factory


def _instantiate(label: str, factory: Any, options: dict[str, Any]) -> Agent:
    if not isinstance(factory, type) and isinstance(factory, Agent) and not options:
        return factory
    if not callable(factory):
        raise AgentError(f"agent {label} is neither a class nor a factory")
    try:
        agent = factory(**options)
    except TypeError as exc:
        raise AgentError(f"agent {label}: bad options {sorted(options)}: {exc}") from None
    if not isinstance(agent, Agent):
        raise AgentError(f"agent {label} has no `run(request, ctx)` method")
    return agent


def resolve_agent(name: str, config: Config | None) -> Agent:
    """The agent called `name`; AgentError when there is none."""
    entry: AgentConfig | None = config.agents.get(name) if config else None
    if entry is not None:
        if entry.command is not None:
            return CommandAgent(command=entry.command, env=entry.options.get("env"))
        plugin = entry.plugin or name
        factory = _load_plugin(plugin)
        if factory is None:
            raise AgentError(
                f"agent `{name}` names plugin `{plugin}`, but no installed package "
                f"provides it in the `{ENTRY_POINT_GROUP}` entry-point group")
        return _instantiate(f"`{name}` (plugin `{plugin}`)", factory, entry.options)
    factory = _registered.get(name) or _load_plugin(name)
    if factory is None:
        raise AgentError(
            f"no agent named `{name}` (configure it in .chatflow/config.yaml under agents:)")
    return _instantiate(f"`{name}`", factory, {})


def run_agent(name: str, prompt: str, with_: dict[str, Any], ctx: ActionContext,
              config: Config | None) -> ActionResult:
    """Fields: `ok`, `text`, `tokens`."""
    try:
        agent = resolve_agent(name, config)
    except AgentError as exc:
        return _failed(str(exc))
    request = AgentRequest(prompt=prompt, with_=with_, instance_id=ctx.instance_id,
                           step=ctx.step)
    outcome = _run_watched(agent, request, ctx)
    if isinstance(outcome, AgentError):
        return _failed(str(outcome), timed_out=outcome.timed_out,
                       cancelled=outcome.cancelled, cpu_s=outcome.cpu_s)
    if isinstance(outcome, BaseException):
        _save_traceback(ctx, outcome)
        return _failed(f"agent `{name}` failed: {type(outcome).__name__}: {outcome}")
    if not isinstance(outcome, AgentResponse) or not isinstance(outcome.text, str) \
            or not isinstance(outcome.tokens, int) or isinstance(outcome.tokens, bool):
        return _failed(f"agent `{name}` returned {outcome!r}, not an AgentResponse(text, tokens)")
    tokens = max(outcome.tokens, 0)
    return ActionResult(True, {"ok": True, "text": outcome.text, "tokens": tokens},
                        tokens=tokens, cpu_s=outcome.cpu_s)


def _run_watched(agent: Agent, request: AgentRequest, ctx: ActionContext) -> Any:
    """Call `agent.run` in a worker thread so a plugin that ignores its
    timeout or the cancel event cannot hold the engine; such a thread is
    abandoned (it cannot be killed) and the step fails."""
    box: list[Any] = []
    done = threading.Event()

    def work() -> None:
        try:
            box.append(agent.run(request, ctx))
        except BaseException as exc:
            box.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name=f"chatflow-agent-{ctx.step}", daemon=True).start()
    deadline = None if ctx.timeout_s is None else (
        time.monotonic() + ctx.timeout_s + _WATCHDOG_SLACK_S)
    cancel_seen: float | None = None
    while not done.wait(0.05):
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return AgentError(f"agent did not finish within its {ctx.timeout_s:g}s timeout",
                              timed_out=True)
        if ctx.cancel.is_set():
            cancel_seen = cancel_seen or now
            if now - cancel_seen >= _WATCHDOG_SLACK_S:
                return AgentError("cancelled; the agent did not stop", cancelled=True)
    return box[0]


def _save_traceback(ctx: ActionContext, exc: BaseException) -> None:
    try:
        ctx.task_dir.mkdir(parents=True, exist_ok=True)
        with open(ctx.task_dir / "stderr", "a", encoding="utf-8") as f:
            f.write("".join(traceback.format_exception(exc)))
    except OSError:
        pass


def _failed(error: str, *, timed_out: bool = False, cancelled: bool = False,
            cpu_s: float = 0.0) -> ActionResult:
    return ActionResult(False, {"ok": False, "text": "", "tokens": 0}, error=error,
                        timed_out=timed_out, cancelled=cancelled, cpu_s=cpu_s)
