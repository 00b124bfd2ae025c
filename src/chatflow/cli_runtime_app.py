"""The runtime's commands declared to the typer app: arguments, options, help.

Each command here only converts its parameters and calls the plain function
of the same name in `chatflow.cli_runtime`, whose return value becomes the
exit status. The hot commands usually never get here: `chatflow.cli_fast`
parses a well-formed `run / status / list / history / approve / resume /
cancel` itself; help, usage errors and anything unusual come here, so the
help text and the error messages are typer's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from chatflow import cli_runtime as rt
from chatflow.cli_runtime import ID_HELP, STATE_HELP

StateOpt = Annotated[str | None, typer.Option("--state", metavar="URL", help=STATE_HELP)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")]


def _exit(code: int) -> None:
    if code:
        raise typer.Exit(code)


def run_cmd(
    target: Annotated[str, typer.Argument(
        metavar="FILE[:FLOW]",
        help="The flow file to run, optionally `:FLOW` to pick one of its flows.")],
    inputs: Annotated[list[str] | None, typer.Option(
        "-i", "--input", metavar="NAME=VALUE",
        help="A param value, read per its declared type (repeatable).")] = None,
    feature: Annotated[str | None, typer.Option(
        "--feature", metavar="ID",
        help="File the instance under this feature id (`chatflow list --feature ID`).",
    )] = None,
    automation: Annotated[int | None, typer.Option(
        "--automation", min=0, max=100, metavar="LEVEL",
        help="Automation level 0..100: approvals, and steps whose risk is at or above "
             "it, wait for a person (default: the flow's `automation`, else "
             "`automation:` in .chatflow/config.yaml, else 100).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the plan (what would run, pause or be skipped) and "
                          "warnings about undefined agents; write nothing.")] = False,
    state: StateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Start an instance and drive it until it finishes or waits for a person."""
    _exit(rt.run(target, inputs or [], feature, automation, dry_run, state, as_json))


def resume_cmd(instance_id: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)],
               state: StateOpt = None, as_json: JsonOpt = False) -> None:
    """Drive an instance on (after an approval, a crash or Ctrl-C)."""
    _exit(rt.resume(instance_id, state, as_json))


def status_cmd(instance_id: Annotated[str | None, typer.Argument(
                   metavar="[ID]", help="The instance (default: the most recent one).")
               ] = None,
               tree: Annotated[bool, typer.Option(
                   "--tree", help="Draw the instance and its sub-flows as a tree.")] = False,
               state: StateOpt = None, as_json: JsonOpt = False) -> None:
    """Show an instance's status and its steps (or, with --tree, its sub-flows)."""
    _exit(rt.status(instance_id, tree, state, as_json))


def list_cmd(feature: Annotated[str | None, typer.Option(
                 "--feature", metavar="ID",
                 help="Only the instances filed under this feature id.")] = None,
             state: StateOpt = None, as_json: JsonOpt = False) -> None:
    """List instances (of one feature); damaged ones are marked (exit 1)."""
    _exit(rt.list_instances(feature, state, as_json))


def approve_cmd(
    instance_id: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)],
    step: Annotated[str, typer.Argument(
        metavar="STEP", help="The waiting step to decide on.")],
    reject: Annotated[bool, typer.Option(
        "--reject", help="Reject instead of approving.")] = False,
    by: Annotated[str | None, typer.Option(
        "--by", metavar="NAME", help="Who decides (default: $USER).")] = None,
    comment: Annotated[str, typer.Option(
        "--comment", metavar="TEXT",
        help="A note kept with the decision in the history.")] = "",
    state: StateOpt = None, as_json: JsonOpt = False,
) -> None:
    """Record a decision on a waiting step (`chatflow resume` then continues)."""
    _exit(rt.approve(instance_id, step, reject, by, comment, state, as_json))


def cancel_cmd(instance_id: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)],
               state: StateOpt = None, as_json: JsonOpt = False) -> None:
    """Cancel an instance (and its sub-flows)."""
    _exit(rt.cancel(instance_id, state, as_json))


def history_cmd(instance_id: Annotated[str | None, typer.Argument(
                    metavar="[ID]", help="The instance (default: the most recent one).")
                ] = None,
                state: StateOpt = None,
                as_json: Annotated[bool, typer.Option(
                    "--json", help="One JSON object per line (ndjson).")] = False) -> None:
    """Print an instance's history, one event per line."""
    _exit(rt.history(instance_id, state, as_json))


def artifacts_cmd(instance_id: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)],
                  step: Annotated[str | None, typer.Argument(
                      metavar="STEP", help="Only this step's files.")] = None,
                  state: StateOpt = None, as_json: JsonOpt = False) -> None:
    """List the files a step (or every step) left: stdout, stderr, artifacts."""
    _exit(rt.artifacts(instance_id, step, state, as_json))


def repair_cmd(instance_id: Annotated[str, typer.Argument(metavar="ID", help=ID_HELP)],
               state: StateOpt = None) -> None:
    """Check an instance's stored files and rebuild what can be rebuilt."""
    _exit(rt.repair(instance_id, state))


def migrate_cmd(state: StateOpt = None, as_json: JsonOpt = False) -> None:
    """Upgrade the state store to the current format (keeps a backup)."""
    _exit(rt.migrate(state, as_json))


COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("run", run_cmd), ("resume", resume_cmd), ("status", status_cmd), ("list", list_cmd),
    ("approve", approve_cmd), ("cancel", cancel_cmd), ("history", history_cmd),
    ("artifacts", artifacts_cmd), ("repair", repair_cmd), ("migrate", migrate_cmd),
)
"""The runtime's commands in the order `chatflow --help` lists them."""


def register(app: typer.Typer) -> None:
    """Add the runtime commands to `app` (a `ChatflowError` they raise is
    reported by `chatflow.cli.run`, the one place errors are caught)."""
    have = {c.name for c in app.registered_commands}
    for name, fn in COMMANDS:
        if name not in have:  # `chatflow.cli.run` may register again in one process
            app.command(name)(fn)
