"""The schema of the SQL backends (SQLite, PostgreSQL): an ordered list of
migrations, each a tuple of statements. `SQLStore.setup()` applies the ones a
database lacks and records each in `schema_migrations`; a dialect may adapt
a migration's statements (`SQLStore._migration`). Append, never edit: a
released migration has already run on someone's database.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the three-way instance model
    (
        """CREATE TABLE instances (
            instance_id TEXT PRIMARY KEY,
            rev INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            flow TEXT NOT NULL,
            status TEXT NOT NULL,
            feature_id TEXT,
            parent_instance_id TEXT,
            created_at TEXT NOT NULL,
            status_json TEXT NOT NULL,
            inputs TEXT NOT NULL,
            variables TEXT NOT NULL,
            outputs TEXT NOT NULL,
            children TEXT NOT NULL,
            ir TEXT,
            extra TEXT NOT NULL)""",
        "CREATE INDEX instances_feature ON instances (feature_id)",
        """CREATE TABLE step_results (
            instance_id TEXT NOT NULL,
            step TEXT NOT NULL,
            rev INTEGER NOT NULL,
            record TEXT NOT NULL,
            PRIMARY KEY (instance_id, step))""",
        "CREATE INDEX step_results_rev ON step_results (instance_id, rev)",
        """CREATE TABLE history (
            instance_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            ts TEXT NOT NULL,
            step TEXT,
            data TEXT NOT NULL,
            PRIMARY KEY (instance_id, seq))""",
    ),
    # 2: pinned IR documents and task artifacts
    (
        """CREATE TABLE ir_documents (
            sha256 TEXT PRIMARY KEY,
            flow TEXT NOT NULL,
            version TEXT NOT NULL,
            doc TEXT NOT NULL)""",
        """CREATE TABLE artifacts (
            instance_id TEXT NOT NULL,
            step TEXT NOT NULL,
            name TEXT NOT NULL,
            data BYTEA NOT NULL,
            PRIMARY KEY (instance_id, step, name))""",
    ),
    # 3: one index fewer to update per commit; an incremental reload finds the
    # changed steps by scanning the instance's step rows (SQLite also rebuilds
    # step_results and history as clustered tables: see sqlite.py)
    (
        "DROP INDEX IF EXISTS step_results_rev",
    ),
)
