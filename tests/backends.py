"""Reusable state-store backends for conformance tests.

    # in a conftest.py of your test directory:
    from backends import backend, store, store_factory, store_url  # noqa: F401
    # or, without fixtures:
    from backends import BACKENDS, make_store_url

Each backend gives a fresh, empty store per test: a temp directory for
`file`, a temp database for `sqlite`, a fresh schema for `postgresql` (only
when CHATFLOW_TEST_PG_DSN is set; skipped otherwise).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chatflow.runtime.store import StateStore, open_store

PG_DSN = os.environ.get("CHATFLOW_TEST_PG_DSN", "")
BACKENDS = ("file", "sqlite", "postgresql")


def make_store_url(kind: str, tmp_path: Path) -> str:
    """A fresh state URL of the given backend kind under `tmp_path`."""
    if kind == "file":
        return f"file:{tmp_path / '.chatflow'}"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    if kind == "postgresql":
        if not PG_DSN:
            pytest.skip("CHATFLOW_TEST_PG_DSN is not set")
        sep = "&" if "?" in PG_DSN else "?"
        return f"{PG_DSN}{sep}schema=cf_test_{uuid.uuid4().hex[:12]}"
    raise ValueError(kind)


def drop_store(url: str) -> None:
    """Remove what a test left at `url` outside its temporary directory (a PostgreSQL schema)."""
    if url.startswith("postgres"):
        from chatflow.runtime.store.postgres import drop_schema
        drop_schema(url)


@pytest.fixture(params=[kind if kind == "file" else pytest.param(kind, marks=pytest.mark.slow)
                        for kind in BACKENDS])
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn; the fast loop (`-m "not slow"`) runs the file
    backend only (the SQL backends' contract stays in it through
    tests/store/test_conformance.py)."""
    kind: str = request.param
    return kind


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    url = make_store_url(backend, tmp_path)
    yield url
    drop_store(url)


@pytest.fixture
def store_factory(store_url: str) -> Iterator[Callable[[], StateStore]]:
    """Opens more stores on the same location (like other processes would)."""
    opened: list[StateStore] = []

    def factory() -> StateStore:
        s = open_store(store_url)
        opened.append(s)
        return s

    yield factory
    for s in opened:
        s.close()


@pytest.fixture
def store(store_factory: Callable[[], StateStore]) -> StateStore:
    return store_factory()
