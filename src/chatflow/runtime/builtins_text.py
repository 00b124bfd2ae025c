"""The text built-in functions of expressions at run time: `split`, `lines`,
`join`, `replace`, `match` (and `matches`, the regex test) and `env`. Each
takes the evaluator (for its errors), the call's IR node and the argument
values; regexes go through `regex_guard`, and no result may grow past
`MAX_TEXT` characters."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NoReturn, Protocol

from chatflow.runtime.regex_guard import regex_first, regex_search
from chatflow.runtime.values import describe

__all__ = ["MAX_TEXT", "TEXT_BUILTINS"]

MAX_TEXT = 1 << 24
"""The longest string `replace` or `join` may build (characters)."""


class _Ev(Protocol):
    def fail(self, node: Any, problem: str) -> NoReturn: ...

    def want_str(self, value: Any, node: Any, what: str = "argument") -> str: ...


_Fn = Callable[[Any, dict[str, Any], list[Any]], Any]


def _strs(ev: _Ev, node: dict[str, Any], v: list[Any]) -> list[str]:
    return [ev.want_str(x, node, f"argument {i + 1}") for i, x in enumerate(v)]


def _regex(run: Callable[[str, str], Any]) -> _Fn:
    """`matches(s, re)` / `match(s, re)`: `run(pattern, subject)` within the
    regex guard's bounds; a refused pattern fails the expression."""
    def fn(ev: _Ev, node: dict[str, Any], v: list[Any]) -> Any:
        subject, pattern = _strs(ev, node, v)
        try:
            return run(pattern, subject)
        except ValueError as exc:
            ev.fail(node, str(exc))
    return fn


_fn_matches = _regex(regex_search)
_fn_match = _regex(regex_first)


def _fn_split(ev: _Ev, node: dict[str, Any], v: list[Any]) -> Any:
    text, sep = _strs(ev, node, v)
    if not sep:
        ev.fail(node, "argument 2: the separator is empty")
    return text.split(sep)


def _fn_lines(ev: _Ev, node: dict[str, Any], v: list[Any]) -> Any:
    # `\n` or `\r\n` ends a line; a final line break does not start a line
    (text,) = _strs(ev, node, v)
    out = text.split("\n")
    if out[-1] == "":
        out.pop()
    return [line[:-1] if line.endswith("\r") else line for line in out]


def _fn_join(ev: _Ev, node: dict[str, Any], v: list[Any]) -> Any:
    items, sep = v
    if not isinstance(items, list):
        ev.fail(node, f"argument 1: expected a list of str, got {describe(items)}")
    sep = ev.want_str(sep, node, "argument 2")
    parts = [ev.want_str(x, node, f"item {i} of argument 1") for i, x in enumerate(items)]
    if sum(map(len, parts)) + len(sep) * max(len(parts) - 1, 0) > MAX_TEXT:
        ev.fail(node, f"result too long (limit {MAX_TEXT} characters)")
    return sep.join(parts)


def _fn_replace(ev: _Ev, node: dict[str, Any], v: list[Any]) -> Any:
    text, old, new = _strs(ev, node, v)
    if not old:
        ev.fail(node, "argument 2: cannot replace the empty string")
    if len(new) > len(old) and \
            len(text) + text.count(old) * (len(new) - len(old)) > MAX_TEXT:
        ev.fail(node, f"result too long (limit {MAX_TEXT} characters)")
    return text.replace(old, new)


def _fn_env(ev: _Ev, node: dict[str, Any], v: list[Any]) -> Any:
    # read when the expression runs, in the process driving the instance
    (name,) = _strs(ev, node, v)
    if not name or "=" in name or "\0" in name:
        ev.fail(node, f"argument 1: not an environment variable name: {name!r}")
    return os.environ.get(name)


TEXT_BUILTINS: dict[str, tuple[int, _Fn]] = {
    "matches": (2, _fn_matches),
    "match": (2, _fn_match),
    "split": (2, _fn_split),
    "lines": (1, _fn_lines),
    "join": (2, _fn_join),
    "replace": (3, _fn_replace),
    "env": (1, _fn_env),
}
"""name -> (arity, implementation)."""
