"""`chatflow compile -o OUT` on odd targets (issue 7, item 10): a symlink is
written through, an existing file keeps its mode, a new file gets the
umask's mode, and a FIFO, a device or a directory is refused (exit 2)
instead of being replaced by a 0600 regular file."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from cli_helpers import Run, chatflow_command

FLOW = """\
flow tiny() {
  step a: shell "echo a"
}
"""


def compile_to(work: Path, out: str, umask: int = 0o022) -> Run:
    proc = subprocess.run([*chatflow_command(), "compile", "tiny.flow", "-o", out], cwd=work,
                          capture_output=True, text=True, timeout=60, check=False,
                          umask=umask)
    r = Run(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in r.output and r.code != 70, r.output
    return r


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "tiny.flow").write_text(FLOW)
    return tmp_path


def is_ir(path: Path) -> bool:
    return bool(json.loads(path.read_text())["entry"] == "tiny")


def leftovers(work: Path) -> list[str]:
    return [p.name for p in work.iterdir() if p.name.endswith(".tmp")]


def test_a_symlink_is_written_through(work: Path) -> None:
    target = work / "real.json"
    target.write_text("old")
    target.chmod(0o640)
    (work / "link.json").symlink_to("real.json")
    r = compile_to(work, "link.json")
    assert r.code == 0, r.output
    assert (work / "link.json").is_symlink() and os.readlink(work / "link.json") == "real.json"
    assert is_ir(target) and stat.S_IMODE(target.stat().st_mode) == 0o640
    dangling = work / "dangling.json"
    dangling.symlink_to("made-by-compile.json")
    assert compile_to(work, "dangling.json").code == 0
    assert dangling.is_symlink() and is_ir(work / "made-by-compile.json")
    assert leftovers(work) == []


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o755, 0o600])
def test_an_existing_file_keeps_its_mode(work: Path, mode: int) -> None:
    out = work / "out.json"
    out.write_text("old")
    out.chmod(mode)
    assert compile_to(work, "out.json").code == 0
    assert is_ir(out) and stat.S_IMODE(out.stat().st_mode) == mode


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_a_new_file_gets_the_umask_mode(work: Path, umask: int) -> None:
    assert compile_to(work, "new.json", umask=umask).code == 0
    assert stat.S_IMODE((work / "new.json").stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_target_that_is_not_a_regular_file_is_refused(work: Path, kind: str) -> None:
    if kind == "fifo":
        target = work / "pipe"
        os.mkfifo(target)
    elif kind == "directory":
        target = work / "adir"
        target.mkdir()
    else:
        target = Path("/dev/null")
    before = target.stat().st_mode
    link = work / "via-link"
    link.symlink_to(target)
    for given in (str(target), "via-link"):
        r = compile_to(work, given)
        assert r.code == 2, r.output
        assert r.stderr.startswith(f"error: cannot write `{given}`: it is a ")
        assert "not a regular file" in r.stderr
    assert target.stat().st_mode == before
    assert link.is_symlink()
    assert leftovers(work) == []
