"""Instances migrated from a v1.0 store (no pinned IR): readable through
every read command, refused clearly (exit 2) by the driving ones."""

from __future__ import annotations

import shutil
from pathlib import Path

from contract_helpers import cf

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "v1_0_store" / ".chatflow"


def test_migrated_instance_reads_and_refuses_to_drive(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / ".chatflow")
    assert cf(tmp_path, "migrate").code == 0
    st = cf(tmp_path, "status", "feature-0001", "--json")
    assert st.code == 0, st.output
    steps = st.json()["steps"]
    assert steps and all("status" in s and "attempts" in s for s in steps.values())
    text = cf(tmp_path, "status", "feature-0001")
    assert text.code == 0 and "feature-0001" in text.stdout
    name = next(iter(steps))
    assert cf(tmp_path, "artifacts", "feature-0001", name).code == 0
    nosuch = cf(tmp_path, "artifacts", "feature-0001", name + "x")
    assert nosuch.code == 2 and f"`{name}`" in nosuch.stderr, nosuch.stderr  # did you mean
    for args in (("resume", "feature-0001"), ("approve", "feature-0001", name)):
        r = cf(tmp_path, *args)
        assert r.code == 2 and "no pinned IR" in r.stderr, (args, r.output)
        assert "Traceback" not in r.stderr
