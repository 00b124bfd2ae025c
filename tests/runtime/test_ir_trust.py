"""Which IR start-up validates: IR compiled in this process is trusted
(`CompiledFlow`, a path: never checked again; `chatflow run`: see
tests/e2e/test_cli_in_process.py); an IR dict
from a caller and pinned IR read back from a store are checked, once per
engine; a pinned IR that is damaged or invalid is a clear error, on every
backend."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import chatflow
from backends import backend, store_url  # noqa: F401  (fixtures)
from chatflow.diagnostics import ChatflowError, UsageError
from chatflow.runtime.api import CompiledFlow, WorkflowEngine, compile_flow
from chatflow.runtime.store import open_store

FLOW = """flow t(x: bool = true) -> (r: bool) {
  step a: shell "true"
  step b: set v = v + 1
  var v: int = 0
  output r = x and a.ok and v == 1
}
"""


@pytest.fixture()
def checks(ir_checks: list[int]) -> list[int]:
    return ir_checks


@pytest.fixture()
def flow_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "t.flow"
    path.write_text(FLOW, encoding="utf-8")
    return path


def new_engine(url: str, tmp_path: Path) -> WorkflowEngine:
    """An engine with its own store and caches, as another process has."""
    return WorkflowEngine(open_store(url), workdir=str(tmp_path))


def test_compiled_ir_is_trusted_and_foreign_ir_checked_once(
        store_url: str, tmp_path: Path, flow_file: Path, checks: list[int]) -> None:  # noqa: F811
    eng = new_engine(store_url, tmp_path)
    by_path = eng.start_workflow_instance(str(flow_file)).instance_id
    compiled = compile_flow(str(flow_file))
    assert isinstance(compiled, CompiledFlow)
    assert chatflow.compile_flow is compile_flow and chatflow.CompiledFlow is CompiledFlow
    by_compiled = eng.start_workflow_instance(compiled).instance_id
    assert checks == []
    by_dict = eng.start_workflow_instance(dict(compiled.ir)).instance_id
    assert checks == [1]
    for iid in (by_path, by_compiled, by_dict):
        eng.run_until_blocked(iid)
        assert eng.status(iid).outputs == {"r": True}
    assert checks == [1]  # the engine runs what it started without reading it back
    # Another process reads the pinned IR back from the store: checked once.
    other = new_engine(store_url, tmp_path)
    for iid in (by_path, by_compiled, by_dict):
        assert other.status(iid).outputs == {"r": True}
    assert checks == [1, 1]
    eng.store.close()
    other.store.close()


def _bad_ir(flow_file: Path) -> dict[str, Any]:
    """Compiled IR with one thing the shape check refuses (the engine core,
    which trusts its caller, still starts it)."""
    ir = compile_flow(str(flow_file)).ir
    ir["flows"]["t"]["settings"]["bogus"] = 1
    return ir


def test_invalid_pinned_ir_is_reported_clearly(
        store_url: str, tmp_path: Path, flow_file: Path) -> None:  # noqa: F811
    eng = new_engine(store_url, tmp_path)
    iid = eng.engine.start(_bad_ir(flow_file)).instance_id
    other = new_engine(store_url, tmp_path)
    for call in (other.status, other.run_until_blocked, other.resume):
        with pytest.raises(ChatflowError) as exc:
            call(iid)
        msg = exc.value.message
        assert msg.startswith("pinned IR t@0 (sha256 "), msg
        assert msg.endswith("cannot be used: invalid IR at $.flows.t.settings: Additional "
                            "properties are not allowed ('bogus' was unexpected)"), msg
        assert not isinstance(exc.value, UsageError)
    eng.store.close()
    other.store.close()


def _damage_pinned_ir(url: str, tmp_path: Path) -> None:
    """Change the text of every pinned IR behind the store's back (still JSON)."""
    if url.startswith("file:"):
        for path in (tmp_path / ".chatflow" / "schemas").glob("*.json"):
            path.write_text(path.read_text().replace('"true"', '"false"'))
    elif url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("UPDATE ir_documents SET doc = replace(doc, '\"true\"', '\"false\"')")
    else:
        import psycopg

        from chatflow.runtime.store.postgres import PostgresStore

        store = open_store(url)
        assert isinstance(store, PostgresStore)
        with psycopg.connect(store.dsn) as conn:
            conn.execute(f'UPDATE "{store.schema}".ir_documents '  # type: ignore[arg-type]
                         "SET doc = replace(doc, '\"true\"', '\"false\"')")
        store.close()


def test_damaged_pinned_ir_is_reported_clearly(
        store_url: str, tmp_path: Path, flow_file: Path) -> None:  # noqa: F811
    eng = new_engine(store_url, tmp_path)
    iid = eng.start_workflow_instance(str(flow_file)).instance_id
    _damage_pinned_ir(store_url, tmp_path)
    other = new_engine(store_url, tmp_path)
    with pytest.raises(ChatflowError) as exc:
        other.run_until_blocked(iid)
    msg = exc.value.message
    assert msg.startswith("pinned IR t@0 (sha256 "), msg
    if store_url.startswith("file:"):
        assert "is missing or damaged in" in msg and "t@0.json has other content" in msg, msg
    else:
        assert msg.endswith("is damaged: its text no longer has that sha256"), msg
    eng.store.close()
    other.store.close()


@pytest.fixture()
def cli_state(tmp_path: Path) -> Iterator[str]:
    yield f"file:{tmp_path / '.chatflow'}"
    WorkflowEngine.forget()


def test_cli_reports_a_damaged_pinned_ir_without_a_traceback(
        tmp_path: Path, flow_file: Path, cli_state: str) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
    from cli_helpers import run_chatflow

    eng = new_engine(cli_state, tmp_path)
    iid = eng.engine.start(_bad_ir(flow_file)).instance_id
    eng.store.close()
    for args in (("status", iid), ("resume", iid)):
        r = run_chatflow(*args, "--state", cli_state, cwd=tmp_path)  # no traceback, no 70
        assert r.code == 1, r.output
        assert "cannot be used: invalid IR at $.flows.t.settings" in r.stderr, r.output
