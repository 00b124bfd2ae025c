"""Helpers for the outside runtime-contract tests: run the installed `chatflow`
command in a sandboxed temporary project (its own HOME), read its JSON, hash
state directories."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cli_helpers import Run, chatflow_command


class Result(Run):
    """A finished run whose stdout is JSON or JSON lines."""

    def json(self) -> Any:
        return json.loads(self.stdout)

    def ndjson(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def sandbox_env(project: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a run: HOME is the project's own `home/` (hostile
    inputs that escape quoting can only hurt the temporary directory), no
    CHATFLOW_STATE unless given, no colour."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "FORCE_COLOR", "CHATFLOW_STATE", "CHATFLOW_DEBUG")}
    home = project / "home"
    home.mkdir(exist_ok=True)
    env["HOME"] = str(home)
    env.update(extra or {})
    return env


def cf(project: Path, *args: str, env: dict[str, str] | None = None,
       timeout: float = 60) -> Result:
    """`chatflow ARGS` in `project`; never a traceback, never an internal error."""
    proc = subprocess.run(
        [*chatflow_command(), *args], cwd=project, capture_output=True, text=True,
        timeout=timeout, env=sandbox_env(project, env), check=False,
    )
    r = Result(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in r.output, f"chatflow {' '.join(args)}:\n{r.output}"
    assert r.code != 70, f"internal error from chatflow {' '.join(args)}:\n{r.output}"
    return r


def cf_many(project: Path, calls: Iterable[tuple[str, ...]],
            env: dict[str, str] | None = None) -> list[Result]:
    """Several independent `chatflow` calls at once (they must not share state)."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        return list(pool.map(lambda a: cf(project, *a, env=env), calls))


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under `root` (relative path -> sha256 of its bytes), plus directories."""
    out: dict[str, str] = {}
    if not root.exists():
        return out
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def write(project: Path, name: str, text: str) -> Path:
    path = project / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
