"""Run the installed `chatflow` command in a subprocess (shared by the e2e tests)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from installed_cli import chatflow_command

__all__ = ["EXAMPLES", "REPO", "Run", "chatflow_command", "run_chatflow"]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_chatflow(*args: str, cwd: Path | str | None = None, timeout: float = 120,
                 env: dict[str, str] | None = None) -> Run:
    """Run `chatflow ARGS`; assert it never prints a traceback or an internal error."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env.update(env or {})
    proc = subprocess.run(
        [*chatflow_command(), *args], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, env=full_env, check=False,
    )
    result = Run(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in result.output, result.output
    assert result.code != 70, f"internal error from chatflow {' '.join(args)}:\n{result.output}"
    return result
