"""Bind a `shell` action's values (IR version 2, docs/ir.md): evaluate each
binding to text, for the environment of the step's process.

The command text is fixed at compile time and runs unchanged; each hole in
it is a reference (`"${cf_NAME}"`) to one of these variables, so the shell
expands the value and never parses it. A binding the shell evaluates as
arithmetic (listed in `integers`) must be a decimal integer, since bash
evaluates an arithmetic operand's text as an expression (`a[$(cmd)]`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chatflow.compiler.ir import expr_text
from chatflow.runtime.evaluator import EvalError, Scope, text_of

__all__ = ["INTEGER", "bind_shell", "check_action", "check_binding"]

INTEGER = re.compile(r"-?(0|[1-9][0-9]*)\Z")
"""A decimal integer numeral as shells read it (no leading zeros: octal)."""


def bind_shell(action: Mapping[str, Any], scope: Scope) -> tuple[str, dict[str, str]]:
    """The command text and its environment bindings. Raises EvalError."""
    check_action(action)
    integers = frozenset(action.get("integers") or ())
    values: dict[str, str] = {}
    for name, expr in (action.get("bindings") or {}).items():
        text = text_of(expr, scope)
        check_binding(text, expr, name in integers)
        values[name] = text
    return str(action["command"]), values


def check_action(action: Mapping[str, Any]) -> None:
    """Raise EvalError for an action that cannot run: one upgraded from IR
    version 1 whose command could not be placed (its `error`), or one that
    is not of IR version 2's shape."""
    if isinstance(action.get("error"), str):
        raise EvalError(action["error"])
    if not isinstance(action.get("command"), str):
        raise EvalError("malformed shell action: its command is not text (IR version 2 "
                        "keeps a fixed command and its bindings)")


def check_binding(text: str, expr: Any, integer: bool) -> None:
    """Raise EvalError when `text` cannot be passed (a NUL byte), or must
    be an integer and is not."""
    if "\x00" in text:
        raise EvalError("the value contains a NUL byte, which cannot be passed to a process",
                        expr_text(expr))
    if integer and INTEGER.match(text) is None:
        shown = text if len(text) <= 40 else text[:39] + "…"
        raise EvalError(f"the value stands in shell arithmetic, so it must be a decimal "
                        f"integer, got {shown!r}", expr_text(expr))
