"""Run-time values: their JSON text, their names in messages, and checks
against the IR's type strings (`str`, `list[int]?`, `map[json]`, ...).

The value model is plain JSON data: `str`, `int`, `float`, `bool`, `None`,
`list` and `dict` with `str` keys. Durations are `int` milliseconds. `bool`
is never a number here, although Python treats it as one. An `int` (and a
duration) is a signed 64-bit integer, as in the language (`INT_MIN` ..
`INT_MAX`, the bound the lexer puts on literals); a `float` is finite (JSON
has no NaN or infinity). A `json` value may hold any JSON number; it meets
those bounds when it becomes an `int` or goes through arithmetic.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "ParsedType",
    "check_type",
    "describe",
    "int64_problem",
    "is_json_value",
    "is_number",
    "json_text",
    "mismatch",
    "parse_type_str",
    "to_text",
    "type_name",
    "values_equal",
]

_PREVIEW_CHARS = 60

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
"""The range of the language's `int` and `duration` (milliseconds)."""

_NOT_FINITE = "not a finite number: numbers are JSON numbers, which have no NaN or infinity"


def int64_problem(value: int) -> str | None:
    """Why an int is not a language int (outside 64 bits), or None."""
    if INT_MIN <= value <= INT_MAX:
        return None
    return f"{value} does not fit in 64 bits: an int is {INT_MIN}..{INT_MAX}"


def is_number(value: Any) -> bool:
    """An `int` or `float`, never a `bool`."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def type_name(value: Any) -> str:
    """The ChatFlow name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def json_text(value: Any) -> str:
    """Compact JSON text of a value (`true`, `[1,2]`, `{"a":"é"}`).

    Raises ValueError for values JSON cannot hold (NaN, sets, huge ints)."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, RecursionError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None


def to_text(value: Any) -> str:
    """How a value is interpolated into a string: `str` as is, all others as JSON text."""
    if isinstance(value, str):
        return value
    return json_text(value)


def describe(value: Any) -> str:
    """`str "x"`, `int 3`, `null`: a short description for error messages."""
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)            # nan, inf, -inf: no JSON text
    try:
        text = json_text(value)
    except ValueError:
        try:   # NaN or infinity inside: shown as Python's json writes them
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            text = "<unprintable>"
    if len(text) > _PREVIEW_CHARS:
        text = text[: _PREVIEW_CHARS - 1] + "…"
    return f"{type_name(value)} {text}"


def is_json_value(value: Any) -> bool:
    """Whether `value` is plain JSON data (finite floats, string map keys).

    Iterative, so a deeply nested document cannot overflow the stack."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, str | bool | int):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                return False
            stack.extend(item.values())
        else:
            return False
    return True


def values_equal(a: Any, b: Any) -> bool:
    """Deep equality of run-time values: `1 == 1.0`, but `true != 1`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return bool(a == b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    return bool(a == b)


@dataclass(frozen=True, slots=True)
class ParsedType:
    """A type string parsed once: `base` is a scalar name, `list` or `map`."""

    base: str
    optional: bool = False
    item: ParsedType | None = None


_SCALARS = frozenset({"str", "int", "float", "bool", "duration", "json"})


@lru_cache(maxsize=512)
def parse_type_str(type_str: str) -> ParsedType:
    """Parse an IR type string. Raises ValueError on a malformed one (an IR bug)."""
    text = type_str.replace(" ", "")
    optional = text.endswith("?")
    if optional:
        text = text[:-1]
    if text in _SCALARS:
        return ParsedType(text, optional)
    for base in ("list", "map"):
        if text.startswith(base + "[") and text.endswith("]"):
            return ParsedType(base, optional, parse_type_str(text[len(base) + 1 : -1]))
    raise ValueError(f"malformed type string {type_str!r}")


def mismatch(value: Any, type_str: str) -> str:
    """`expected T, got ...` for a value that does not fit `type_str`, naming
    the number that breaks the value model when that is the reason."""
    bad = _bad_number(value)
    if bad is not None and not isinstance(bad, bool):
        where = "" if bad is value else f" ({describe(value)} holds it)"
        if isinstance(bad, float):
            return f"expected {type_str}, got {bad}{where}: {_NOT_FINITE}"
        parsed = parse_type_str(type_str)
        if parsed.base != "json":
            return f"expected {type_str}, got an int that is too large{where}: " \
                   f"{int64_problem(bad)}"
    return f"expected {type_str}, got {describe(value)}"


def _bad_number(value: Any) -> int | float | None:
    """The first non-finite float or out-of-range int inside `value`."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return item
        if isinstance(item, int) and not isinstance(item, bool) \
                and not INT_MIN <= item <= INT_MAX:
            return item
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return None


def check_type(value: Any, type_str: str) -> bool:
    """Whether a run-time value fits a declared type (`int` widens to `float`,
    `json` accepts any JSON data, `T?` also accepts null)."""
    parsed = parse_type_str(type_str)
    try:
        return _fits(value, parsed)
    except RecursionError:
        return False


def _fits(value: Any, t: ParsedType) -> bool:
    if value is None:
        return t.optional or t.base == "json"
    base = t.base
    if base == "json":
        return is_json_value(value)
    if base == "str":
        return isinstance(value, str)
    if base in ("int", "duration"):
        return isinstance(value, int) and not isinstance(value, bool) \
            and INT_MIN <= value <= INT_MAX
    if base == "float":
        if isinstance(value, int):
            return not isinstance(value, bool) and INT_MIN <= value <= INT_MAX
        return isinstance(value, float) and math.isfinite(value)
    if base == "bool":
        return isinstance(value, bool)
    assert t.item is not None
    item = t.item
    if base == "list":
        return isinstance(value, list) and all(_fits(v, item) for v in value)
    if base == "map":
        return isinstance(value, dict) and all(
            isinstance(k, str) and _fits(v, item) for k, v in value.items()
        )
    return False
