"""The registry of state-store URL schemes: which backend a state URL names,
how its location is read from the URL, how the store is opened and migrated,
and how a relative location is made absolute.

The built-in backends (`file:`, `sqlite:`, `postgresql:` / `postgres:`) are
registered here the same way a third-party backend is: a package declares an
entry point in the group `chatflow.stores` whose object is a `StoreScheme`
(or a function returning one), for example

    [project.entry-points."chatflow.stores"]
    redis = "chatflow_redis:SCHEME"

Entry points are read once, the first time a URL's scheme is not built in;
a plugin cannot replace a built-in scheme. See docs/state-stores.md.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from chatflow.runtime.store.base import StateStore, StoreError, StoreURLError
from chatflow.runtime.store.records import MigrationReport

__all__ = [
    "ENTRY_POINT_GROUP",
    "StoreScheme",
    "migrate_url",
    "normalize_url",
    "open_url",
    "parse_url",
    "register_scheme",
    "schemes",
]

ENTRY_POINT_GROUP = "chatflow.stores"


@dataclass(frozen=True, slots=True)
class StoreScheme:
    """One kind of state store and the URL schemes that name it.

    `parse(url, rest)` gets the whole URL and what follows `scheme:`; it
    returns the location `open` and `migrate` receive (a path, a DSN) or
    raises `StoreURLError`. `open(location, url)` returns the store (nothing
    is created before the first write). `migrate(location, url, backup)`
    upgrades a store in place; without one, `chatflow migrate` applies the
    store's own `setup()` and reports `schema_version()` before and after.
    `normalize(url, base)` makes a relative location absolute against the
    directory `base` (the URL unchanged when it has nothing relative).
    `usage` is how the URL is written, for error messages."""

    kind: str
    schemes: tuple[str, ...]
    usage: str
    parse: Callable[[str, str], str]
    open: Callable[[str, str], StateStore]
    migrate: Callable[[str, str, bool], MigrationReport] | None = None
    normalize: Callable[[str, Path], str] | None = None


_lock = threading.Lock()
_load_lock = threading.Lock()
_schemes: dict[str, StoreScheme] = {}
_builtin: frozenset[str] = frozenset()
_plugins_loaded = False


def register_scheme(scheme: StoreScheme) -> None:
    """Register a backend under each of its URL schemes (lower case). A
    built-in scheme cannot be replaced."""
    if not isinstance(scheme, StoreScheme):
        raise StoreError(f"a state store plugin must give a StoreScheme, got "
                         f"{type(scheme).__name__}")
    with _lock:
        for name in scheme.schemes:
            key = name.lower()
            if key in _builtin:
                raise StoreError(f"state store plugin {scheme.kind!r} cannot replace the "
                                 f"built-in `{key}:` scheme")
            _schemes[key] = scheme


def schemes() -> dict[str, StoreScheme]:
    """Every registered scheme (entry points included) → its backend."""
    _load_plugins()
    with _lock:
        return dict(_schemes)


def _usage() -> str:
    """The accepted URL forms (a broken plugin must not hide the real error)."""
    try:
        known = schemes()
    except StoreError:
        with _lock:
            known = dict(_schemes)
    seen: list[str] = []
    for s in known.values():
        if s.usage not in seen:
            seen.append(s.usage)
    return "expected " + (", ".join(seen[:-1]) + " or " + seen[-1] if len(seen) > 1
                          else "".join(seen))


def _lookup(scheme: str) -> StoreScheme | None:
    with _lock:
        found = _schemes.get(scheme)
    if found is None and not _plugins_loaded:
        _load_plugins()
        with _lock:
            found = _schemes.get(scheme)
    return found


def _load_plugins() -> None:
    global _plugins_loaded
    with _load_lock:
        if _plugins_loaded:
            return
        _plugins_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                obj: Any = ep.load()
                register_scheme(obj() if callable(obj) and not isinstance(obj, StoreScheme)
                                else obj)
            except StoreError:
                raise
            except Exception as exc:  # a broken plugin: a clear error, not a traceback
                raise StoreError(f"state store plugin {ep.name!r} ({ep.value}) failed to "
                                 f"load: {type(exc).__name__}: {exc}") from None


def _split(url: str) -> tuple[str, str, str] | None:
    """(scheme in lower case, what follows `scheme:`, url) or None for a bare path."""
    scheme, sep, rest = url.partition(":")
    if not sep or len(scheme) == 1 or os.sep in scheme or "." in scheme:
        return None  # a bare path (or a Windows drive letter)
    return scheme.lower(), rest, url


def parse_url(url: str) -> tuple[StoreScheme, str]:
    """The backend a state URL names and its location; a bare path is a
    `file:` location."""
    if not isinstance(url, str) or not url.strip():
        raise StoreURLError(f"empty state URL; {_usage()}")
    url = url.strip()
    parts = _split(url)
    if parts is None:
        return _schemes["file"], url
    scheme, rest, _ = parts
    found = _lookup(scheme)
    if found is None:
        raise StoreURLError(f"unknown state URL scheme {scheme!r} in {url!r}; {_usage()}")
    return found, found.parse(url, rest)


def open_url(url: str) -> StateStore:
    """The store a state URL names."""
    scheme, location = parse_url(url)
    return scheme.open(location, url)


def migrate_url(url: str, backup: bool = True) -> MigrationReport:
    """Upgrade the store at `url` to the current format (`chatflow migrate`)."""
    scheme, location = parse_url(url)
    if scheme.migrate is not None:
        return scheme.migrate(location, url, backup)
    from chatflow.runtime.store.migrate import migrate_by_setup

    return migrate_by_setup(scheme.open(location, url), url)


def normalize_url(url: str, base: Path) -> str:
    """`url` with a relative location made absolute against `base` (by the
    scheme's `normalize`); other URLs and bare paths unchanged."""
    parts = _split(url)
    if parts is None:
        return url
    found = _lookup(parts[0])
    if found is None or found.normalize is None:
        return url
    return found.normalize(url, base)


# ---------------------------------------------------------------------------- built-ins


def _file_parse(url: str, rest: str) -> str:
    if rest.startswith("//"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise StoreURLError(f"file URL {url!r} names a host; {_usage()}")
        path = unquote(parts.path)
    else:
        path = unquote(rest)
    if not path:
        raise StoreURLError(f"file URL {url!r} has no path; {_usage()}")
    return path


def _file_open(location: str, url: str) -> StateStore:
    from chatflow.runtime.store.file import FileStore

    return FileStore(Path(location), url)


def _file_migrate(location: str, url: str, backup: bool) -> MigrationReport:
    from chatflow.runtime.store.migrate import migrate_file_store

    return migrate_file_store(Path(location), url, backup=backup)


def _file_normalize(url: str, base: Path) -> str:
    if url.startswith("file:") and not url.startswith("file://"):
        path = Path(url[len("file:"):] or ".chatflow")
        return "file:" + str(path if path.is_absolute() else (base / path).resolve())
    return url


def _sqlite_parse(url: str, rest: str) -> str:
    if not rest.startswith("///") or len(rest) <= 3:
        raise StoreURLError(f"bad SQLite URL {url!r}; {_usage()}")
    path = unquote(rest[3:])
    if path in (":memory:",) or path.startswith("?"):
        raise StoreURLError(f"SQLite URL {url!r}: an in-memory database cannot be "
                            f"shared between chatflow processes; {_usage()}")
    return path


def _sqlite_open(location: str, url: str) -> StateStore:
    from chatflow.runtime.store.sqlite import SQLiteStore

    return SQLiteStore(Path(location), url)


def _sqlite_migrate(location: str, url: str, backup: bool) -> MigrationReport:
    from chatflow.runtime.store.migrate import migrate_sqlite

    return migrate_sqlite(Path(location), url, backup=backup)


def _sqlite_normalize(url: str, base: Path) -> str:
    if url.startswith("sqlite:///"):
        rest = url[len("sqlite:///"):]
        path = Path(rest)
        if not path.is_absolute() and not rest.startswith("/"):
            return "sqlite:///" + str((base / path).resolve())
    return url


def _pg_parse(url: str, rest: str) -> str:
    if not rest.startswith("//"):
        raise StoreURLError(f"bad PostgreSQL URL {url!r}; {_usage()}")
    return url


def _pg_open(location: str, url: str) -> StateStore:
    from chatflow.runtime.store.postgres import PostgresStore

    return PostgresStore(location)


_BUILTINS = (
    StoreScheme("file", ("file",), "file:PATH", _file_parse, _file_open, _file_migrate,
                _file_normalize),
    StoreScheme("sqlite", ("sqlite",), "sqlite:///RELATIVE.db, sqlite:////ABSOLUTE.db",
                _sqlite_parse, _sqlite_open, _sqlite_migrate, _sqlite_normalize),
    StoreScheme("postgresql", ("postgresql", "postgres"), "postgresql://USER@HOST/DB",
                _pg_parse, _pg_open),
)
for _scheme in _BUILTINS:
    register_scheme(_scheme)
_builtin = frozenset(_schemes)
