"""ChatFlow's own seven action kinds, declared as data exactly as a plugin
declares its kind, and registered in the `chatflow.actions` entry-point group
by ChatFlow's pyproject.toml. The language gives `call` and `set` their own
syntax, and `approve`, `set`, `fail` and `call` are carried out by the engine
itself (`runtime = None`); the others run through `runtime/actions/kinds.py`."""

from __future__ import annotations

from chatflow.plugins import ActionKind, Option

_WITH = Option("map[json]", "arguments of a python function or extra data for an agent")

SHELL = ActionKind(
    "shell", "runs `/bin/sh -c CMD` in the working directory; every interpolated value "
    "reaches the shell through an environment variable, never as command text",
    {"ok": "bool", "exit_code": "int", "stdout": "str", "stderr": "str"},
    target_doc="CMD", runtime="chatflow.runtime.actions.kinds:SHELL", builtin=True)
PYTHON = ActionKind(
    "python", "calls the function with the `with` map as keyword arguments",
    {"ok": "bool", "value": "json"}, {"with": _WITH},
    target_doc="pkg.module:function", runtime="chatflow.runtime.actions.kinds:PYTHON",
    builtin=True)
AGENT = ActionKind(
    "agent", "the AI agent adapter registered under NAME, given `prompt` and `with`",
    {"ok": "bool", "text": "str", "tokens": "int"},
    {"prompt": Option("str", "the prompt"), "with": _WITH},
    target_doc="NAME", runtime="chatflow.runtime.actions.kinds:AGENT",
    builtin=True)
APPROVE = ActionKind(
    "approve", "waits for a person (`chatflow approve`) unless the instance runs at "
    "automation 100", {"approved": "bool", "by": "str", "comment": "str"},
    target_doc="MESSAGE", builtin=True)
CALL = ActionKind(
    "call", "starts a child instance of FLOW and waits for it (`call FLOW(arg: EXPR, ...)`)",
    {"ok": "bool"}, target=None, builtin=True)
SET = ActionKind("set", "assigns a `var` (`set NAME = EXPR`)", {}, target=None, builtin=True)
FAIL = ActionKind("fail", "fails the instance on purpose", {}, target_doc="MESSAGE",
                  builtin=True)

BUILTIN: dict[str, ActionKind] = {
    k.name: k for k in (SHELL, PYTHON, AGENT, APPROVE, CALL, SET, FAIL)}
