"""Odd state locations and damaged instance files through the installed
command (issue 7, item 10): each gets a clear `error: ...` (or `warning:
damaged: ...`) and exit 1 or 2, never 70 ("a bug in ChatFlow"), and one
damaged instance never hides the others from `chatflow list`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_helpers import chatflow_command
from contract_helpers import Result, cf, sandbox_env, write

GATED = """\
flow gated() {
  step first: shell "echo first >> log.txt"
  step rev: shell "echo rev >> log.txt" { risk 80 }
  step last: shell "echo last >> log.txt"
}
"""


def _waiting(tmp_path: Path) -> str:
    write(tmp_path, "gated.flow", GATED)
    r = cf(tmp_path, "run", "gated.flow", "--automation", "50", "--json")
    assert r.code == 3, r.output
    return str(r.json()["instance_id"])

NOT_A_DIRECTORY = {
    "a regular file": lambda tmp: _touch(tmp / "afile"),
    "a path under a regular file": lambda tmp: _touch(tmp / "afile") / "sub",
    "a file in /proc": lambda tmp: Path("/proc/self/status"),
    "a directory /proc cannot hold": lambda tmp: Path("/proc/chatflow-no-such-dir"),
    "a device": lambda tmp: Path("/dev/null"),
}


def _touch(path: Path) -> Path:
    path.write_text("not a store\n")
    return path


@pytest.mark.parametrize("case", sorted(NOT_A_DIRECTORY))
def test_state_url_that_names_no_usable_directory_is_a_usage_error(
        tmp_path: Path, case: str) -> None:
    where = NOT_A_DIRECTORY[case](tmp_path)
    write(tmp_path, "gated.flow", GATED)
    r = cf(tmp_path, "run", "gated.flow", "--state", f"file:{where}")
    assert r.code == 2, r.output
    assert r.stderr.startswith("error: ") and str(where) in r.stderr, r.stderr
    assert "Traceback" not in r.output
    if where.exists():
        listed = cf(tmp_path, "list", "--state", f"file:{where}")
        assert listed.code == 2 and "not a directory" in listed.stderr, listed.output


def _unprivileged() -> list[str]:
    """A command prefix under which permission bits stop writes: nothing for
    a normal user; as root, `setpriv` dropping the capabilities that bypass
    them (root ignores a directory's mode). Skips when neither works."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"] \
        if setpriv else []
    if prefix:
        probe = Path(os.environ.get("TMPDIR", "/tmp")) / f"cf-ro-probe-{os.getpid()}"
        probe.mkdir(mode=0o555, exist_ok=True)
        try:
            done = subprocess.run([*prefix, "sh", "-c", f"touch {probe}/x"],
                                  capture_output=True, check=False)
            if done.returncode != 0 and not (probe / "x").exists():
                return prefix
        finally:
            (probe / "x").unlink(missing_ok=True)
            probe.rmdir()
    pytest.fail("running as root and cannot drop CAP_DAC_OVERRIDE (no usable setpriv, from "
                "util-linux): "
                "permission bits do not stop root's writes, so a read-only state "
                "directory cannot be tested here")


def _cf_unprivileged(project: Path, *args: str) -> Result:
    proc = subprocess.run([*_unprivileged(), *chatflow_command(), *args], cwd=project,
                          capture_output=True, text=True, timeout=60,
                          env=sandbox_env(project), check=False)
    r = Result(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in r.output and r.code != 70, r.output
    return r


def test_read_only_empty_directory_as_state(tmp_path: Path) -> None:
    write(tmp_path, "gated.flow", GATED)
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    try:
        r = _cf_unprivileged(tmp_path, "run", "gated.flow", "--state", f"file:{ro}")
    finally:
        ro.chmod(0o755)
    assert r.code == 2, r.output
    assert r.stderr.startswith("error: cannot make a state store in") \
        and "Permission denied" in r.stderr, r.stderr


def test_read_only_existing_store(tmp_path: Path) -> None:
    iid = _waiting(tmp_path)
    store = tmp_path / ".chatflow"
    modes = {p: p.stat().st_mode for p in [store, *store.rglob("*")]}
    for p in modes:
        p.chmod(modes[p] & ~0o222)
    try:
        run = _cf_unprivileged(tmp_path, "run", "gated.flow")
        listed = _cf_unprivileged(tmp_path, "list")
        approve = _cf_unprivileged(tmp_path, "approve", iid, "rev")
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
    assert run.code == 1 and "Permission denied" in run.stderr, run.output
    assert run.stderr.startswith("error: state store I/O error:"), run.stderr
    assert listed.code == 0 and iid in listed.stdout, listed.output
    assert approve.code == 1 and "Permission denied" in approve.stderr, approve.output


def _instance_files(tmp_path: Path, iid: str) -> dict[str, Path]:
    inst = tmp_path / ".chatflow" / "instances"
    return {"history.ndjson": inst / iid / "history.ndjson", "ID.json": inst / f"{iid}.json",
            ".lock": inst / iid / ".lock"}


@pytest.mark.parametrize("name", ["history.ndjson", "ID.json", ".lock"])
def test_a_directory_where_a_file_belongs(tmp_path: Path, name: str) -> None:
    iid = _waiting(tmp_path)
    other = _waiting(tmp_path)
    path = _instance_files(tmp_path, iid)[name]
    path.unlink(missing_ok=True)
    path.mkdir()
    (path / "something").write_text("x")

    status = cf(tmp_path, "status", iid)
    listed = cf(tmp_path, "list")
    assert other in listed.stdout and iid in listed.stdout, listed.output
    if name == ".lock":   # status reconciles leases under the lock, which cannot be taken
        assert status.code == 1 and "is a directory" in status.stderr, status.output
    else:
        assert status.code == 0 and "warning: damaged:" in status.stderr, status.output
    if name == "history.ndjson":
        assert listed.code == 1 and "lost-history" in listed.stdout, listed.output
        approve = cf(tmp_path, "approve", iid, "rev")
        assert approve.code == 1 and f"chatflow repair {iid}" in approve.stderr, approve.output
    else:
        assert listed.code == 0, listed.output

    repaired = cf(tmp_path, "repair", iid)
    assert repaired.code == 0 and "backup:" in repaired.stdout, repaired.output
    assert (path.parent / next(p.name for p in path.parent.iterdir()
                               if p.name.startswith(path.name + ".corrupt-")) / "something"
            ).read_text() == "x"                   # moved aside, not deleted
    assert cf(tmp_path, "approve", iid, "rev").code == 0
    done = cf(tmp_path, "resume", iid, "--json")
    assert done.code == 0 and done.json()["status"] == "succeeded", done.output
    assert cf(tmp_path, "status", iid).stderr == ""


def test_the_commands_on_an_event_seq_of_the_wrong_type(tmp_path: Path) -> None:
    """What each command does with a corrupt history line (the store's side,
    for every wrong type: tests/store/test_file_damage.py)."""
    iid = _waiting(tmp_path)
    hist = _instance_files(tmp_path, iid)["history.ndjson"]
    hist.write_bytes(hist.read_bytes().replace(b'{"seq":2,', b'{"seq":"x",'))
    status = cf(tmp_path, "status", iid)
    assert status.code == 0 and "corrupt-line" in status.stderr and "seq" in status.stderr
    history = cf(tmp_path, "history", iid)
    assert history.code == 0 and history.stdout.split()[0] == "1", history.output
    assert cf(tmp_path, "list").code == 0
    repaired = cf(tmp_path, "repair", iid)
    assert repaired.code == 1 and "not repairable automatically" in repaired.stdout
    assert cf(tmp_path, "approve", iid, "rev").code == 0
    assert cf(tmp_path, "resume", iid).code == 0


def test_list_marks_an_unreadable_instance_and_lists_the_others(tmp_path: Path) -> None:
    broken = _waiting(tmp_path)
    fine = _waiting(tmp_path)
    files = _instance_files(tmp_path, broken)
    files["history.ndjson"].write_bytes(b"")
    (files["history.ndjson"].parent / "state.json").unlink()
    r = cf(tmp_path, "list")
    assert r.code == 1, r.output
    lines = r.stdout.splitlines()
    assert any(line.startswith(fine) and "waiting_approval" in line for line in lines)
    assert any(line.startswith(broken) and "unreadable" in line for line in lines)
    assert "  damaged: " in r.stdout and "warning: 1 instance(s)" in r.stderr
    rows = {row["instance_id"]: row for row in cf(tmp_path, "list", "--json").json()}
    assert rows[fine]["problems"] == [] and rows[broken]["status"] is None
    assert rows[broken]["problems"][0]["repairable"] is False
