"""`chatflow --help` and `chatflow COMMAND --help` for every command: every
argument and option is described, no flag shows a `<bool>` type, value
options show a metavar, and `--state` names every kind of state URL."""

from __future__ import annotations

from typing import Any

import pytest
import typer
import typer.core
from cli_helpers import run_chatflow

from chatflow.cli import app, register_runtime


def _commands() -> dict[str, Any]:
    """The commands of the app as the command line builds them (name -> command)."""
    register_runtime(app)
    group = typer.main.get_command(app)
    commands: dict[str, Any] = getattr(group, "commands", {})
    return dict(commands)


COMMANDS = sorted(_commands())


def test_every_command_is_walked() -> None:
    assert {"compile", "lint", "graph", "schema", "run", "resume", "status", "list",
            "approve", "cancel", "history", "artifacts", "repair", "migrate"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_parameter_is_described(name: str) -> None:
    command = _commands()[name]
    assert (command.help or "").strip(), f"`chatflow {name}` has no description"
    undocumented = [p.name for p in command.params if not (getattr(p, "help", "") or "").strip()]
    assert not undocumented, f"`chatflow {name}`: no help for {undocumented}"
    for p in command.params:
        if isinstance(p, typer.core.TyperOption) and not p.is_flag and not p.count:
            # a value option shows a metavar (`--state URL`) or its choices (`<text|json>`)
            shown = p.metavar or ("|" in (p.display_type(None) or ""))
            assert shown, f"`chatflow {name} {p.opts[0]}` shows a bare type, not a metavar"


@pytest.mark.parametrize("name", ["", *COMMANDS])
def test_help_output_has_no_bool_metavar(name: str) -> None:
    r = run_chatflow(*([name] if name else []), "--help")
    assert r.code == 0, r.output
    assert "<bool>" not in r.stdout, r.stdout
    assert "Usage: chatflow" in r.stdout
    lines = r.stdout.splitlines()
    options = [line for line in lines if line.startswith("  -")]
    assert options, r.stdout
    # every option line carries a description after its names (or on the next line)
    for i, line in enumerate(lines):
        if line.startswith("  -") and "  " not in line.strip():
            assert i + 1 < len(lines) and lines[i + 1].startswith(" " * 6), (name, line)


def test_state_help_names_every_url_scheme() -> None:
    r = run_chatflow("status", "--help")
    text = " ".join(r.stdout.split())
    assert "--state URL" in text
    for scheme in ("file:DIR", "sqlite:///PATH.db", "postgresql://"):
        assert scheme in text
