"""The hot runtime commands parsed straight from argv, without typer.

`chatflow status ID`, `list`, `history`, `approve`, `resume`, `cancel` and
`run` are what people and scripts call over and over; importing typer and
building its parameter converters costs several times what such a command
does. `parse` accepts only a well-formed invocation whose every token it
understands (the command first, known options with their values, the right
number of arguments) and returns None for anything else: `--help`, a typo,
a missing argument, `--automation` out of range, `--`, a value that looks
like an option. Those go to the typer app, so help text, usage errors and
their exit codes stay typer's. What an accepted invocation does is the plain
function in `chatflow.cli_runtime`, the same one the typer app calls.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

FLAG, VALUE, MULTI, LEVEL = "flag", "value", "multi", "level"


@dataclass(frozen=True)
class Spec:
    """One command's parameters, in the order of the `chatflow.cli_runtime` function."""

    required: tuple[str, ...]                  # positional arguments that must be given
    optional: tuple[str, ...]                  # positional arguments that may follow
    options: dict[str, tuple[str, str]]        # spelling -> (parameter, kind)
    defaults: dict[str, Any]
    call: Callable[[dict[str, Any]], int]


def _state_json() -> dict[str, tuple[str, str]]:
    return {"--state": ("state", VALUE), "--json": ("as_json", FLAG)}


def _rt() -> Any:
    from chatflow import cli_runtime

    return cli_runtime


SPECS: dict[str, Spec] = {
    "run": Spec(
        ("target",), (),
        {"-i": ("inputs", MULTI), "--input": ("inputs", MULTI),
         "--feature": ("feature", VALUE), "--automation": ("automation", LEVEL),
         "--dry-run": ("dry_run", FLAG), **_state_json()},
        {"inputs": [], "feature": None, "automation": None, "dry_run": False,
         "state": None, "as_json": False},
        lambda a: int(_rt().run(a["target"], a["inputs"], a["feature"], a["automation"],
                                a["dry_run"], a["state"], a["as_json"]))),
    "resume": Spec(
        ("instance_id",), (), _state_json(), {"state": None, "as_json": False},
        lambda a: int(_rt().resume(a["instance_id"], a["state"], a["as_json"]))),
    "status": Spec(
        (), ("instance_id",), {"--tree": ("tree", FLAG), **_state_json()},
        {"instance_id": None, "tree": False, "state": None, "as_json": False},
        lambda a: int(_rt().status(a["instance_id"], a["tree"], a["state"], a["as_json"]))),
    "list": Spec(
        (), (), {"--feature": ("feature", VALUE), **_state_json()},
        {"feature": None, "state": None, "as_json": False},
        lambda a: int(_rt().list_instances(a["feature"], a["state"], a["as_json"]))),
    "approve": Spec(
        ("instance_id", "step"), (),
        {"--reject": ("reject", FLAG), "--by": ("by", VALUE),
         "--comment": ("comment", VALUE), **_state_json()},
        {"reject": False, "by": None, "comment": "", "state": None, "as_json": False},
        lambda a: int(_rt().approve(a["instance_id"], a["step"], a["reject"], a["by"],
                                    a["comment"], a["state"], a["as_json"]))),
    "cancel": Spec(
        ("instance_id",), (), _state_json(), {"state": None, "as_json": False},
        lambda a: int(_rt().cancel(a["instance_id"], a["state"], a["as_json"]))),
    "history": Spec(
        (), ("instance_id",), _state_json(),
        {"instance_id": None, "state": None, "as_json": False},
        lambda a: int(_rt().history(a["instance_id"], a["state"], a["as_json"]))),
}


def _level(text: str) -> int | None:
    """An automation level as typer reads it (0..100), else None (typer says why)."""
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 0 <= value <= 100 else None


def parse(args: Sequence[str]) -> tuple[Spec, dict[str, Any]] | None:
    """(the command, its parameters) for a well-formed hot command, else None."""
    if not args or args[0] not in SPECS:
        return None
    spec = SPECS[args[0]]
    values = {k: (list(v) if isinstance(v, list) else v) for k, v in spec.defaults.items()}
    positional: list[str] = []
    seen: set[str] = set()
    rest = list(args[1:])
    while rest:
        token = rest.pop(0)
        if not token.startswith("-"):
            positional.append(token)
            continue
        name, eq, attached = token.partition("=")
        if not name.startswith("--"):
            name, eq, attached = token, "", ""
        known = spec.options.get(name)
        if known is None:
            return None  # --help, -h, --, a typo, `-iX`: typer's to answer
        param, kind = known
        if kind == FLAG:
            if eq:
                return None
            values[param] = True
            continue
        if eq:
            value = attached
        else:
            if not rest or rest[0].startswith("-"):
                return None
            value = rest.pop(0)
        if kind == MULTI:
            values[param].append(value)
            continue
        if param in seen:
            return None
        seen.add(param)
        if kind == LEVEL:
            level = _level(value)
            if level is None:
                return None
            values[param] = level
        else:
            values[param] = value
    if not len(spec.required) <= len(positional) <= len(spec.required) + len(spec.optional):
        return None
    values.update(zip((*spec.required, *spec.optional), positional, strict=False))
    return spec, values


def run(args: Sequence[str]) -> int | None:
    """Run a hot command parsed here and return its exit status; None when
    `args` is not one (the typer app then takes them)."""
    parsed = parse(args)
    if parsed is None:
        return None
    spec, values = parsed
    from chatflow.diagnostics import ChatflowError

    try:
        return spec.call(values)
    except ChatflowError as exc:
        from chatflow.commands import report_error

        return report_error(exc)
    except KeyboardInterrupt:
        return 130  # as the typer app exits on Ctrl-C: quietly, status 130
    except BrokenPipeError:
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1  # as the typer app exits when its reader goes away
