"""Shared by bench/compile.py, parallel.py and scale.py: run measurements in
child processes, alternating between variants round by round (this tree, a
baseline source tree on PYTHONPATH, a floor or a peer), and print min and
median per row.

A measurement is a child process `python SCRIPT --child ARGS...` that prints
one JSON object (name -> number) on its last line of output.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = str(REPO / "src")


@dataclass
class Variant:
    """One way of running the child: a label, the source tree on PYTHONPATH
    and the child's arguments."""

    label: str
    args: list[str]
    src: str = HERE


@dataclass
class Samples:
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, result: dict[str, float]) -> None:
        for k, v in result.items():
            self.values.setdefault(k, []).append(float(v))

    def min(self, key: str) -> float:
        return min(self.values.get(key) or [float("nan")])

    def median(self, key: str) -> float:
        return statistics.median(self.values.get(key) or [float("nan")])


def process_env(src: str | None = None) -> dict[str, str]:
    """A timed command's environment: no $CHATFLOW_STATE, and bytecode caches
    written and used (an installed package has them; a checkout run with
    PYTHONDONTWRITEBYTECODE would recompile every module on every start);
    `src` (a source tree) first on PYTHONPATH."""
    env = dict(os.environ)
    env.pop("CHATFLOW_STATE", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def print_goals(goals: Sequence[tuple[str, bool]]) -> None:
    """The goal verdicts a bench ends with."""
    print()
    for text, ok in goals:
        print(f"goal {'met' if ok else 'NOT met':>7}: {text}")


def child_env(src: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = src
    return env


def run_child(script: str, args: Sequence[str], src: str = HERE,
              timeout: float = 600) -> dict[str, float]:
    proc = subprocess.run([sys.executable, script, "--child", *args], env=child_env(src),
                          capture_output=True, text=True, timeout=timeout, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{script} --child {' '.join(args)} (PYTHONPATH={src}) failed:\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    result = json.loads(lines[-1])
    assert isinstance(result, dict)
    return {str(k): float(v) for k, v in result.items()}


def alternate(script: str, variants: Sequence[Variant], rounds: int,
              progress: bool = True) -> dict[str, Samples]:
    """Each round runs every variant once, in turn (so load falls on all alike)."""
    out = {v.label: Samples() for v in variants}
    for r in range(rounds):
        for v in variants:
            res = run_child(script, v.args, v.src)
            out[v.label].add(res)
            if progress:
                sys.stderr.write(f"  round {r + 1}/{rounds} {v.label}: "
                                 + ", ".join(f"{k}={x:.4g}" for k, x in res.items()) + "\n")
    return out


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
