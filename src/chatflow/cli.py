"""The `chatflow` command line: parses arguments and prints, nothing else.

All logic lives in `chatflow.compiler.api` (and the runtime's CLI module). The
one project error type, `ChatflowError`, is caught once in `run` and becomes
`error: message` on stderr plus its exit code. Exit codes: 0 success (warnings
allowed), 1 errors in a flow, 2 usage error (missing file, unknown option, bad
target), 70 internal error (see `chatflow.__main__`).

Heavy modules (the compiler, lark, networkx, jsonschema, rich) are imported
inside the commands that need them, so `chatflow lint` does not pay for them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from chatflow import __version__
from chatflow.diagnostics import ChatflowError, Diagnostic, has_errors

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2

OWN_COMMANDS = frozenset({"compile", "lint", "graph", "schema"})

app = typer.Typer(
    name="chatflow",
    help="ChatFlow: compile, check and run workflow files (.flow, .yaml).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
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


# --------------------------------------------------------------------------- printing


def print_diagnostics(
    diags: Sequence[Diagnostic], sources: Mapping[str, str] | None = None,
    fmt: str = "text", stream: Any = None,
) -> None:
    """Write diagnostics in `fmt` (text|json|sarif) to `stream` (default stderr for
    text, stdout for the machine formats). Text is coloured only on a terminal."""
    from chatflow import diagnostic_format as df

    if fmt == "json":
        (stream or sys.stdout).write(df.render_json(diags))
    elif fmt == "sarif":
        (stream or sys.stdout).write(df.render_sarif(diags, version=__version__))
    else:
        out = stream or sys.stderr
        out.write(df.render_text(diags, sources, color=df.use_color(out)))
    (stream or (sys.stdout if fmt != "text" else sys.stderr)).flush()


def write_atomic(path: str, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory and a
    rename, so readers never see half a file."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise ChatflowError(f"cannot write `{path}`: directory `{directory}` does not exist",
                            EXIT_USAGE)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ChatflowError(f"cannot write `{path}`: {exc.strerror or exc}", EXIT_ERRORS) from None


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
    from chatflow.compiler import api

    path, flow = api.split_target(target)
    if emit is Emit.ast:
        diags, sources, text = _ast_text(path)
    else:
        result = api.compile_path(path, flow=flow, source_info=not no_source_info)
        diags, sources = list(result.diagnostics), dict(result.sources)
        text = None
        if result.ir is not None and not has_errors(diags):
            from chatflow.compiler import ir as ir_mod

            text = ir_mod.dumps(result.ir)
    print_diagnostics(diags, sources)
    if has_errors(diags) or text is None:
        raise typer.Exit(EXIT_ERRORS)
    if output:
        write_atomic(output, text)
    else:
        sys.stdout.write(text)


def _ast_text(path: str) -> tuple[list[Diagnostic], dict[str, str], str | None]:
    """The AST of `path` as indented JSON, with the parse diagnostics."""
    import json

    from chatflow.compiler import api

    result = api.ast_of(path)
    if result.ast is None:
        return result.diagnostics, result.sources, None
    text = json.dumps(result.ast, indent=2, ensure_ascii=False) + "\n"
    return result.diagnostics, result.sources, text


@app.command("lint")
def lint_cmd(
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH", help="Files or directories (searched recursively for "
        ".flow, .yaml and .yml files).",
    )],
    fmt: Annotated[OutputFormat, typer.Option(
        "--format", "-f", help="text for people (stderr); json or sarif for tools (stdout).",
        case_sensitive=False,
    )] = OutputFormat.text,
) -> None:
    """Check flows without compiling them. Exit 0 when clean or only warnings, 1 on errors."""
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise ChatflowError(
            "no such file or directory: " + ", ".join(f"`{p}`" for p in missing), EXIT_USAGE)
    from chatflow.compiler import api

    result = api.lint_paths(paths)
    diags = list(result.diagnostics)
    print_diagnostics(diags, dict(result.sources), fmt.value)
    if has_errors(diags):
        raise typer.Exit(EXIT_ERRORS)


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
    from chatflow.compiler import api

    path, flow = api.split_target(target)
    result = api.graph_of(path, flow, fmt.value)
    print_diagnostics(result.diagnostics, result.sources)
    if has_errors(result.diagnostics) or result.text is None:
        raise typer.Exit(EXIT_ERRORS)
    _echo(result.text)


@app.command("schema")
def schema_cmd(
    kind: Annotated[SchemaKind, typer.Argument(
        help="yaml: the JSON Schema of the YAML form (for editors); ir: the IR's schema.",
        case_sensitive=False,
    )],
) -> None:
    """Print a JSON Schema shipped with ChatFlow."""
    import json

    from chatflow.compiler import api

    schema = api.yaml_schema() if kind is SchemaKind.yaml else api.ir_schema()
    _echo(json.dumps(schema, indent=2, ensure_ascii=False))


# --------------------------------------------------------------------------- running


def _first_command(args: Sequence[str]) -> str | None:
    for arg in args:
        if not arg.startswith("-"):
            return arg
    return None


def register_runtime(target: typer.Typer) -> None:
    """Add the runtime's commands (run, status, approve, ...) when that module exists."""
    import importlib.util

    if importlib.util.find_spec("chatflow.cli_runtime") is None:
        return
    from importlib import import_module

    module = import_module("chatflow.cli_runtime")
    register = getattr(module, "register", None)
    if callable(register):
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
        if exc.diagnostics:
            print_diagnostics(exc.diagnostics)
        sys.stderr.write(f"error: {exc.message}\n")
        return exc.exit_code
    return EXIT_OK
