"""The `chatflow` command line: parses arguments and prints, nothing else.

What each command does lives in `chatflow.commands` (over
`chatflow.compiler.api`) and in the runtime's CLI module. The
one project error type, `ChatflowError`, is caught once in `run` and becomes
`error: message` on stderr plus its exit code. Exit codes: 0 success (warnings
allowed), 1 errors in a flow, 2 usage error (missing file, unknown option, bad
target), 70 internal error (see `chatflow.__main__`).

Heavy modules (the compiler, lark, networkx, jsonschema, rich) are imported
inside the commands that need them, so `chatflow lint` does not pay for them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated

import typer

from chatflow import __version__, commands
from chatflow.commands import EXIT_ERRORS, EXIT_OK, EXIT_USAGE
from chatflow.diagnostics import ChatflowError

__all__ = ["EXIT_ERRORS", "EXIT_OK", "EXIT_USAGE", "app", "print_diagnostics", "run"]

OWN_COMMANDS = frozenset({"compile", "lint", "graph", "schema", "plugins"})

app = typer.Typer(
    name="chatflow",
    help="ChatFlow: compile, check and run workflow files (.flow, .yaml).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain (click-style) help: flags show no `<bool>` type column, and every
    # option shows its metavar (`--state URL`); tests/e2e/test_cli_help.py checks it.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


class Emit(StrEnum):
    ir = "ir"
    ast = "ast"


class GraphFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"


class SchemaKind(StrEnum):
    yaml = "yaml"
    ir = "ir"


# Kept importable from here for the runtime's CLI module.
print_diagnostics = commands.print_diagnostics
write_atomic = commands.write_atomic


def _echo(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


# --------------------------------------------------------------------------- commands


def _version_callback(value: bool) -> None:
    if value:
        _echo(f"chatflow {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", "-V", is_eager=True, callback=_version_callback,
        help="Print the version and exit.",
    )] = False,
) -> None:
    """ChatFlow: compile, check and run workflow files (.flow, .yaml)."""


@app.command("compile")
def compile_cmd(
    target: Annotated[str, typer.Argument(
        metavar="FILE[:FLOW]", help="The file to compile, optionally `:FLOW` to pick a flow.",
    )],
    output: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="OUT", help="Write the result to OUT (atomically) "
        "instead of stdout.",
    )] = None,
    no_source_info: Annotated[bool, typer.Option(
        "--no-source-info", help="Leave file names, spans and source hashes out of the IR.",
    )] = False,
    emit: Annotated[Emit, typer.Option(
        "--emit", help="What to print: the IR (default) or the parsed AST.",
        case_sensitive=False,
    )] = Emit.ir,
) -> None:
    """Compile a flow to its IR (JSON). Diagnostics go to stderr; exit 1 on errors."""
    code = commands.compile_target(target, output, not no_source_info, emit.value)
    if code:
        raise typer.Exit(code)


@app.command("lint")
def lint_cmd(
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH", help="Files to check (any name), or directories to search: "
        "their .flow files and ChatFlow's YAML (*.flow.yaml, or a top-level `flow:` / "
        "`flows:` key); hidden directories, virtual environments, node_modules and "
        "git-ignored paths are skipped.",
    )],
    fmt: Annotated[OutputFormat, typer.Option(
        "--format", "-f", help="text for people (stderr); json or sarif for tools (stdout).",
        case_sensitive=False,
    )] = OutputFormat.text,
) -> None:
    """Check flows without compiling them. Exit 0 when clean or only warnings, 1 on errors."""
    code = commands.lint(paths, fmt.value)
    if code:
        raise typer.Exit(code)


@app.command("graph")
def graph_cmd(
    target: Annotated[str, typer.Argument(
        metavar="FILE[:FLOW]", help="The file to draw, optionally `:FLOW` to pick a flow.",
    )],
    fmt: Annotated[GraphFormat, typer.Option(
        "--format", "-f", help="mermaid (default) or Graphviz dot.", case_sensitive=False,
    )] = GraphFormat.mermaid,
) -> None:
    """Print the dependency graph of a flow (Mermaid or DOT)."""
    code = commands.graph(target, fmt.value)
    if code:
        raise typer.Exit(code)


@app.command("schema")
def schema_cmd(
    kind: Annotated[SchemaKind, typer.Argument(
        metavar="KIND",
        help="yaml: the JSON Schema of the YAML form (for editors); ir: the IR's schema.",
        case_sensitive=False,
    )],
) -> None:
    """Print a JSON Schema shipped with ChatFlow."""
    commands.schema(kind.value)


@app.command("plugins")
def plugins_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")] = False,
) -> None:
    """List the installed action kinds (built-in and plugins) with their options and fields."""
    from chatflow.cli_plugins import plugins_text

    _echo(plugins_text(as_json))


# --------------------------------------------------------------------------- running


def _first_command(args: Sequence[str]) -> str | None:
    for arg in args:
        if not arg.startswith("-"):
            return arg
    return None


def register_runtime(target: typer.Typer) -> None:
    """Add the runtime's commands (run, status, approve, ...) to `target`."""
    from chatflow.cli_runtime_app import register

    register(target)


def run(args: Sequence[str]) -> int:
    """Run the app on `args`; return the exit status instead of exiting."""
    if _first_command(args) not in OWN_COMMANDS:
        register_runtime(app)
    try:
        app(args=list(args), prog_name="chatflow")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return EXIT_OK
        return code if isinstance(code, int) else EXIT_ERRORS
    except ChatflowError as exc:
        return commands.report_error(exc)
    return EXIT_OK
