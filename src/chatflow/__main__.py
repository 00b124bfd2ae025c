"""Entry point of the `chatflow` command (and `python -m chatflow`).

`chatflow --version` is answered straight from argv, before typer, rich or lark
are imported, so it starts in a few milliseconds. A well-formed hot runtime
command (`run`, `status`, `list`, `history`, `approve`, `resume`, `cancel`)
is parsed by `chatflow.cli_fast` and never imports typer either. A plain
`chatflow lint [--format F] PATH...` goes straight to `chatflow.commands.lint`
(importing typer and building its parameter converters costs more than linting
a file); anything else, including help and usage errors, goes to the typer
app in `chatflow.cli`. Unexpected exceptions never reach the user as a
traceback: they become `internal error: ...` and exit status 70.
"""

from __future__ import annotations

import sys

EXIT_INTERNAL = 70


def _internal_error(exc: BaseException) -> int:
    name = type(exc).__name__
    sys.stderr.write(
        f"internal error: {name}: {exc}\n"
        "  this is a bug in chatflow, not in your flow; please report it with the command\n"
        "  you ran (set CHATFLOW_DEBUG=1 to see the Python traceback)\n"
    )
    import os

    if os.environ.get("CHATFLOW_DEBUG"):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    return EXIT_INTERNAL


_COMPILE_SIDE = frozenset({"compile", "lint", "graph", "schema"})


def _compile_side(args: list[str]) -> bool:
    """Help, usage errors and the commands that only compile."""
    command = next((a for a in args if not a.startswith("-")), None)
    return command is None or command in _COMPILE_SIDE


def _dispatch(args: list[str]) -> int:
    from chatflow import cli_fast

    code = cli_fast.run(args)
    if code is not None:
        return code
    from chatflow import commands
    from chatflow.diagnostics import ChatflowError

    plain = commands.parse_plain_lint(args)
    if plain is not None:
        try:
            return commands.lint(*plain)
        except ChatflowError as exc:
            return commands.report_error(exc)
    from chatflow.cli import run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with `argv` (default: sys.argv[1:]) and return the exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):
        from chatflow import __version__

        sys.stdout.write(f"chatflow {__version__}\n")
        return 0
    try:
        from chatflow import deep

        # Room for 1,000-deep expressions: the compile-side commands run in a
        # thread with a big stack; the runtime's stay on this thread (Ctrl-C).
        phase = deep.in_deep_thread if _compile_side(args) else deep.here
        return phase(_dispatch, args)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (`chatflow compile x | head`): not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush stays quiet.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        return _internal_error(exc)


if __name__ == "__main__":
    sys.exit(main())
