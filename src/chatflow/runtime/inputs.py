"""Reading raw `NAME=VALUE` inputs (`chatflow run -i`) per the flow's declared
param types: `str` as is, `int`/`duration` within 64 bits, a finite
`float`, `bool` words, JSON for the rest. Bad values are usage errors that
say why. `read_inputs` also binds them (defaults filled, every param checked)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from chatflow.diagnostics import UsageError

__all__ = ["parse_input_value", "parse_inputs", "read_inputs"]


def parse_input_value(name: str, raw: str, type_str: str) -> Any:
    """A `-i NAME=VALUE` value read per the param's declared type: an int must
    fit in 64 bits and a float must be finite (the language's value model)."""
    from chatflow.runtime.values import check_type, mismatch

    base = type_str[:-1] if type_str.endswith("?") else type_str
    if type_str.endswith("?") and raw == "null":
        return None
    try:
        if base == "str":
            return raw
        if base == "int":
            return _int64(int(raw.replace("_", "")))
        if base == "float":
            number = float(raw.replace("_", ""))
            if not math.isfinite(number):
                raise ValueError("not a finite number: numbers are JSON numbers, which "
                                 "have no NaN or infinity")
            return number
        if base == "bool":
            low = raw.strip().lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if base == "duration":
            return _int64(_duration_ms(raw))
        value = json.loads(raw)
    except (ValueError, json.JSONDecodeError) as exc:
        raise UsageError(f"input `{name}`: cannot read {raw!r} as {type_str} ({exc})") from None
    if not check_type(value, type_str):
        raise UsageError(f"input `{name}`: {raw!r}: {mismatch(value, type_str)}")
    return value


def _int64(value: int) -> int:
    from chatflow.runtime.values import int64_problem

    problem = int64_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _duration_ms(raw: str) -> int:
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    text = raw.strip()
    for suffix in ("ms", "s", "m", "h", "d"):
        if text.endswith(suffix) and text[: -len(suffix)].replace("_", "").isdigit():
            return int(text[: -len(suffix)].replace("_", "")) * units[suffix]
    return int(text)


def parse_inputs(pairs: Sequence[str], flow: Mapping[str, Any]) -> dict[str, Any]:
    """`NAME=VALUE` strings read per the flow's params (nothing bound yet)."""
    types = {p["name"]: p["type"] for p in flow.get("params", [])}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"-i expects NAME=VALUE, got {pair!r}")
        if name not in types:
            known = ", ".join(types) or "none"
            raise UsageError(f"unknown input `{name}` (the flow's params: {known})")
        out[name] = parse_input_value(name, raw, types[name])
    return out


def read_inputs(pairs: Sequence[str], flow: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs an instance of `flow` (one flow of an IR) starts with: the
    raw `NAME=VALUE` strings read per its params, defaults filled in."""
    from chatflow.runtime.engine import bind_inputs

    return bind_inputs(flow, parse_inputs(pairs, flow))
