"""The test suite itself: it runs the `chatflow` it was installed with (never
one found on PATH), and nothing in it is skipped except the PostgreSQL tests
when CHATFLOW_TEST_PG_DSN is unset, so `.venv/bin/python -m pytest` on a fresh
clone gives 0 failed and 0 skipped apart from those."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from installed_cli import chatflow_command

TESTS = Path(__file__).resolve().parent
SKIP_ALLOWED = {TESTS / "backends.py"}  # PostgreSQL, when its DSN is unset

# Built from pieces so this file does not match its own patterns.
_Q = "[\"']"
PATH_LOOKUPS = [
    re.compile(r"which\(\s*" + _Q + "chatflow" + _Q),
    re.compile(_Q + "-m" + _Q + r"\s*,\s*" + _Q + "chatflow" + _Q),
    re.compile(r"(?:run|Popen|call|check_output|check_call)\(\s*\[\s*" + _Q + "chatflow" + _Q),
]
SKIPS = re.compile(r"pytest\.skip\(|mark\.skip(?:if)?\b|importorskip\(|SkipTest\b|skipTest\(")


def _test_sources() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if p != Path(__file__).resolve())


def test_no_test_looks_chatflow_up_on_path() -> None:
    found = [f"{p.relative_to(TESTS)}:{text[:m.start()].count(chr(10)) + 1}"
             for p in _test_sources() for text in [p.read_text(encoding="utf-8")]
             for pattern in PATH_LOOKUPS for m in pattern.finditer(text)]
    assert not found, ("run chatflow through installed_cli.chatflow_command(), not PATH: "
                       + ", ".join(found))


def test_only_the_postgresql_tests_may_skip() -> None:
    found = [f"{p.relative_to(TESTS)}:{text[:m.start()].count(chr(10)) + 1}"
             for p in _test_sources() if p not in SKIP_ALLOWED
             for text in [p.read_text(encoding="utf-8")] for m in SKIPS.finditer(text)]
    assert not found, "a test that skips silently hides a failure: " + ", ".join(found)


def test_the_command_is_the_one_beside_the_interpreter(tmp_path: Path) -> None:
    """A `chatflow` earlier on PATH (here a fake that leaves a canary) is not used."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    canary = tmp_path / "fake-chatflow-ran"
    fake = fake_bin / "chatflow"
    fake.write_text(f"#!/bin/sh\ntouch '{canary}'\necho 'chatflow 0.0.0-fake'\n",
                    encoding="utf-8")
    fake.chmod(0o755)
    command = chatflow_command()
    assert command == [str(Path(sys.executable).parent / "chatflow")]
    env = {**os.environ, "PATH": f"{fake_bin}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    out = subprocess.run([*command, "--version"], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.startswith("chatflow ") and "fake" not in out
    assert not canary.exists()
