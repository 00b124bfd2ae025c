"""`chatflow.cli_fast`: the hot commands parsed without typer take exactly the
invocations typer would accept the same way, and leave everything else
(help, usage errors) to typer."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow import cli_fast, cli_runtime
from chatflow.cli import run as typer_run

FUNCS = {"run": "run", "resume": "resume", "status": "status", "list": "list_instances",
         "approve": "approve", "cancel": "cancel", "history": "history"}

ACCEPTED = [
    ["status"], ["status", "ID"], ["status", "ID", "--tree", "--json"],
    ["status", "--state", "file:x", "ID"], ["status", "--state=sqlite:///a.db", "ID"],
    ["list"], ["list", "--feature", "F", "--json"], ["list", "--feature=F", "--state", "file:s"],
    ["history"], ["history", "ID", "--json"], ["history", "--json", "ID"],
    ["approve", "ID", "STEP"], ["approve", "ID", "STEP", "--reject", "--by", "me"],
    ["approve", "--comment", "looks good", "ID", "STEP", "--json"],
    ["approve", "ID", "STEP", "--comment="],
    ["resume", "ID"], ["resume", "ID", "--state", "file:s", "--json"],
    ["cancel", "ID"], ["cancel", "--json", "ID"],
    ["run", "f.flow"], ["run", "f.flow:main", "-i", "a=1", "--input", "b=x y", "-i", "c="],
    ["run", "f.flow", "--automation", "0", "--dry-run", "--feature", "F", "--json"],
    ["run", "--automation=100", "f.flow", "--input=a=1"],
    ["status", "ID", "--json", "--json"],
]

REFUSED = [
    [], ["status", "--help"], ["status", "-h"], ["status", "ID", "extra"], ["list", "ID"],
    ["approve", "ID"], ["approve", "ID", "STEP", "--by"], ["run"], ["run", "--help", "f"],
    ["run", "f", "--automation", "101"], ["run", "f", "--automation", "-1"],
    ["run", "f", "--automation", "x"], ["run", "f", "--automation", "+5"],
    ["status", "--", "ID"], ["status", "-"], ["status", "--jsn"], ["status", "--json=1"],
    ["status", "--state", "--json"], ["run", "f", "-ia=1"], ["list", "--feature", "a",
                                                               "--feature", "b"],
    ["compile", "f"], ["lint", "f"], ["--version"], ["--state", "s", "status"],
    ["artifacts", "ID"], ["repair", "ID"], ["migrate"],
]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    seen: list[tuple[str, tuple[Any, ...]]] = []
    for func in FUNCS.values():
        def record(*args: Any, _name: str = func) -> int:
            seen.append((_name, args))
            return 0
        monkeypatch.setattr(cli_runtime, func, record)
    return seen


@pytest.mark.parametrize("args", ACCEPTED, ids=" ".join)
def test_accepted_like_typer(args: list[str], calls: list[tuple[str, tuple[Any, ...]]]) -> None:
    assert cli_fast.parse(args) is not None
    assert cli_fast.run(args) == 0
    assert typer_run(args) == 0
    assert len(calls) == 2
    assert calls[0] == calls[1]  # the same function with the same values


@pytest.mark.parametrize("args", REFUSED, ids=lambda a: " ".join(a) or "(none)")
def test_refused_goes_to_typer(args: list[str]) -> None:
    assert cli_fast.parse(args) is None
    assert cli_fast.run(args) is None


def test_error_is_reported_with_its_exit_code(tmp_path: Any,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_fast.run(["status", "no-such-instance", "--state", f"file:{tmp_path}"])
    fast = capsys.readouterr()
    assert code == typer_run(["status", "no-such-instance", "--state", f"file:{tmp_path}"])
    slow = capsys.readouterr()
    assert code not in (0, None)
    assert fast.err == slow.err and fast.err.startswith("error: ")
