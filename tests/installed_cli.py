"""Where the tests find the `chatflow` command and the files they validate against.

Every test that runs `chatflow` in a subprocess takes the command from
`chatflow_command()`: the console script installed next to the interpreter
running the tests (`.venv/bin/chatflow` for `.venv/bin/python -m pytest`),
never whatever `chatflow` happens to be first on PATH, so a fresh clone tests
its own code without activating the virtual environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SARIF_SCHEMA = TESTS / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
"""The OASIS SARIF 2.1.0 JSON Schema, shipped with the tests (see its README)."""


def chatflow_command() -> list[str]:
    """`[path of the chatflow console script beside sys.executable]`; the test
    fails (it is not skipped) when ChatFlow is not installed there."""
    beside = Path(sys.executable).parent / "chatflow"
    if not beside.is_file():
        pytest.fail(
            f"no `chatflow` command next to {sys.executable}: install ChatFlow into the "
            "interpreter that runs the tests (`.venv/bin/pip install -e '.[dev]'`) and run "
            "them with it (`.venv/bin/python -m pytest`)", pytrace=False)
    return [str(beside)]


_DEFAULT_SIGINT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                   "os.execv(sys.argv[1], sys.argv[1:])")


def with_default_sigint(command: list[str]) -> list[str]:
    """`command`, started with SIGINT's default action restored. A background
    job of a non-interactive shell (`cmd &`, as CI scripts and some runners
    start pytest) inherits SIGINT *ignored*, and Python then never raises
    KeyboardInterrupt: a test that presses Ctrl-C must not depend on how
    pytest itself was started. (exec keeps the process id.)"""
    return [sys.executable, "-c", _DEFAULT_SIGINT, *command]
