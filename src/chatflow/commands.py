"""What each compiler command of the CLI does, without the argument parser.

`chatflow.cli` (typer) parses arguments and calls these; `chatflow.__main__`
calls `lint` directly for plain `chatflow lint PATH...` so that the common
check-my-files case starts without importing typer. Each function prints its
output and returns the exit status; usage problems raise `ChatflowError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from chatflow import __version__
from chatflow.diagnostics import ChatflowError, Diagnostic, UsageError, has_errors

if TYPE_CHECKING:
    from chatflow.compiler.agent_names import AgentCatalog

__all__ = [
    "EXIT_ERRORS", "EXIT_OK", "EXIT_USAGE", "agents_in_effect", "compile_target", "exit_code_for",
    "graph",
    "lint", "parse_plain_lint", "print_diagnostics", "report_error", "schema",
    "warn_undefined_agents", "write_atomic",
]

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2

LINT_FORMATS = ("text", "json", "sarif")


def print_diagnostics(
    diags: Sequence[Diagnostic], sources: Mapping[str, str] | None = None,
    fmt: str = "text", stream: TextIO | None = None,
) -> None:
    """Write diagnostics in `fmt` (text|json|sarif). Text goes to stderr and is
    coloured only on a terminal; json and sarif go to stdout."""
    from chatflow import diagnostic_format as df

    if fmt == "json":
        out = stream or sys.stdout
        out.write(df.render_json(diags))
    elif fmt == "sarif":
        out = stream or sys.stdout
        out.write(df.render_sarif(diags, version=__version__))
    else:
        out = stream or sys.stderr
        out.write(df.render_text(diags, sources, color=df.use_color(out)))
    out.flush()


def write_atomic(path: str, text: str | Callable[[TextIO], object]) -> None:
    """Write `text` to `path` through a temporary file in the same directory and a
    rename, so readers never see half a file. `text` may be a function that
    writes the text to the file it is given (a large IR is written as it is
    produced, never held whole in memory).

    A symlink is written through: the file it points to is replaced and the
    link stays. An existing file keeps its permission bits (and its owner and
    group when this user may set them); a new file gets the mode the umask
    gives (0666 & ~umask), as `cc -o` or a shell redirection would: an IR is
    not a secret. Anything that is not a regular file (a directory, FIFO,
    device or socket) is refused: the rename would replace it with a file."""
    import tempfile

    target = os.path.realpath(path)      # through every symlink (a dangling one too)
    directory, name = os.path.split(target)
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UsageError(f"cannot write `{path}`: {exc.strerror or exc}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        what = _not_a_file(st.st_mode)
        raise UsageError(f"cannot write `{path}`: it is {what}, not a regular file; `-o` "
                            "writes a file (leave `-o` out to print to stdout)")
    if not os.path.isdir(directory or "."):
        shown = os.path.dirname(path) or directory
        raise UsageError(f"cannot write `{path}`: directory `{shown}` does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory or ".")
    try:
        if st is None:
            os.fchmod(fd, 0o666 & ~_umask())
        else:
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
            if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                with contextlib.suppress(PermissionError):
                    os.fchown(fd, st.st_uid, st.st_gid)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            if isinstance(text, str):
                fh.write(text)
            else:
                text(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ChatflowError(f"cannot write `{path}`: {exc.strerror or exc}") from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _not_a_file(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _echo(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def agents_in_effect() -> AgentCatalog:
    """The agents `chatflow run` would find from the current directory: the
    `agents:` map of `./.chatflow/config.yaml` and the installed plugins (a
    broken config is a usage error, as it is for `chatflow run`)."""
    from chatflow.runtime.config import CONFIG_RELPATH, agent_catalog, load_config

    return agent_catalog(load_config(Path.cwd() / CONFIG_RELPATH))


def warn_undefined_agents(ir: Mapping[str, Any]) -> None:
    """`chatflow run --dry-run`: print W0115 (on stderr, as `lint` does) for
    each agent the run could reach that the configuration in effect does not define."""
    from chatflow.compiler.agent_names import ir_agent_warnings

    diags = ir_agent_warnings(ir, agents_in_effect())
    if not diags:
        return
    sources: dict[str, str] = {}
    for d in diags:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            sources.setdefault(d.span.file, Path(d.span.file).read_text("utf-8"))
    print_diagnostics(diags, sources)


def lint(paths: Sequence[str], fmt: str = "text") -> int:
    """`chatflow lint`: 0 clean or warnings only, 1 errors."""
    if fmt not in LINT_FORMATS:
        raise UsageError(f"unknown format `{fmt}` (use text, json or sarif)")
    from chatflow.compiler import api

    # a missing path: usage error from find_sources
    result = api.lint_paths(list(paths), agents=agents_in_effect)
    print_diagnostics(result.diagnostics, result.sources, fmt)
    return EXIT_ERRORS if has_errors(result.diagnostics) else EXIT_OK


def compile_target(target: str, output: str | None = None, source_info: bool = True,
                   emit: str = "ir") -> int:
    """`chatflow compile`: the IR (or AST) on stdout or in `output`; 1 on errors."""
    from chatflow.compiler import api

    path, flow = api.split_target(target)
    text: str | Callable[[TextIO], object] | None = None
    if emit == "ast":
        tree = api.ast_of(path)
        diags, sources = tree.diagnostics, tree.sources
        if tree.ast is not None:
            from chatflow.json_text import indented

            text = indented(tree.ast) + "\n"
    else:
        result = api.compile_path(path, flow=flow, source_info=source_info)
        diags, sources = result.diagnostics, result.sources
        ir = result.ir
        del result
        if ir is not None and not has_errors(diags):
            from chatflow.compiler import ir as ir_mod

            doc = ir

            def text(fh: TextIO) -> None:  # written as it is produced (memory)
                ir_mod.dump(doc, fh.write)
    print_diagnostics(diags, sources)
    if has_errors(diags) or text is None:
        return EXIT_ERRORS
    if output:
        write_atomic(output, text)
    elif isinstance(text, str):
        sys.stdout.write(text)
    else:
        text(sys.stdout)
    return EXIT_OK


def graph(target: str, fmt: str = "mermaid") -> int:
    """`chatflow graph`: Mermaid or DOT text of a flow's dependency graph."""
    from chatflow.compiler import api

    path, flow = api.split_target(target)
    result = api.graph_of(path, flow, fmt)
    print_diagnostics(result.diagnostics, result.sources)
    if has_errors(result.diagnostics) or result.text is None:
        return EXIT_ERRORS
    _echo(result.text)
    return EXIT_OK


def schema(kind: str) -> int:
    """`chatflow schema yaml|ir`."""
    from chatflow.compiler import api

    doc = api.yaml_schema() if kind == "yaml" else api.ir_schema()
    _echo(json.dumps(doc, indent=2, ensure_ascii=False))
    return EXIT_OK


def exit_code_for(exc: ChatflowError) -> int:
    """The exit code of an error, chosen here from its class: 2 for a request that
    cannot be carried out as asked (`UsageError`), 1 for everything else."""
    return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_ERRORS


def report_error(exc: ChatflowError) -> int:
    """Print a `ChatflowError` (and any diagnostics it carries); return its exit code."""
    if exc.diagnostics:
        print_diagnostics(exc.diagnostics, exc.sources or None)
    sys.stderr.write(f"error: {exc.message}\n")
    sys.stderr.flush()
    return exit_code_for(exc)


def parse_plain_lint(args: Sequence[str]) -> tuple[list[str], str] | None:
    """(paths, format) when `args` is a plain `lint [--format F] PATH...`, else None
    (then the full argument parser handles it, with its help and usage errors)."""
    if len(args) < 2 or args[0] != "lint":
        return None
    paths: list[str] = []
    fmt = "text"
    rest = list(args[1:])
    while rest:
        arg = rest.pop(0)
        if arg in ("--format", "-f"):
            if not rest:
                return None
            fmt = rest.pop(0)
        elif arg.startswith("--format="):
            fmt = arg.partition("=")[2]
        elif arg.startswith("-"):
            return None
        else:
            paths.append(arg)
    fmt = fmt.lower()
    if not paths or fmt not in LINT_FORMATS:
        return None
    return paths, fmt
