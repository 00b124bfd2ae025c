"""`schema_version()` is part of the `StateStore` contract: every backend
answers it (an int, stable across `setup()` once set up), and `chatflow
migrate` reads it without reaching past the contract."""

from __future__ import annotations

from chatflow.runtime.store import StateStore
from chatflow.runtime.store.records import FORMAT_VERSION
from chatflow.runtime.store.sql import MIGRATIONS


def test_every_backend_reports_its_schema_version(store: StateStore) -> None:
    store.setup()
    version = store.schema_version()
    expected = FORMAT_VERSION if store.kind == "file" else len(MIGRATIONS)
    assert isinstance(version, int) and version == expected
    store.setup()  # idempotent: nothing left to apply
    assert store.schema_version() == version
