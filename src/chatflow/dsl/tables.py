"""The LALR tables of the `.flow` grammar: read from `flow_tables.json`
shipped in the package, or — when the grammar (or lark) changed since —
rebuilt from `flow.lark` and kept in the user's cache directory.

Building the tables costs ~100 ms, too much for a CLI's cold start, so they are
shipped as plain JSON (never pickle) next to the grammar: lark's own
serialized parser (needed only for error messages) and the same tables for the
fast driver (`dsl.lalr`). Nothing is written into the installed package at
run time: stale shipped tables are rebuilt into
`$CHATFLOW_CACHE_DIR` (default `$XDG_CACHE_HOME/chatflow`, else
`~/.cache/chatflow`), one file per grammar hash, and used from there; when
that cannot be written either, they are rebuilt in memory. After editing the
grammar, regenerate the shipped file with
`python -c 'from chatflow.dsl.tables import write_tables; write_tables()'`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

from chatflow.dsl import lalr
from chatflow.dsl.lalr import Tables

__all__ = ["STARTS", "cache_dir", "get_fast", "get_lark", "write_tables"]

_GRAMMAR_FILE = "flow.lark"
_TABLES_FILE = "flow_tables.json"
STARTS = ("module", "expr_start", "type_start")
"""The grammar's start symbols."""
CACHE_ENV = "CHATFLOW_CACHE_DIR"
_DIR = os.path.dirname(os.path.abspath(__file__))
_lark_instance: Any = None
_fast_instance: Tables | None = None


def get_lark(builder: object) -> Any:
    """The module-wide Lark parser, with `builder` as its inline transformer.

    Loaded from the shipped tables, or the cached ones for an edited grammar
    (checked against the grammar's hash and the lark version), else built
    (~100 ms) and cached. Only needed for input the fast driver (`get_fast`)
    leaves to lark: syntax errors, and error messages."""
    global _lark_instance
    if _lark_instance is None:
        _lark_instance = _load_tables(builder) or _build_and_save(builder)
    return _lark_instance


def get_fast(builder: object) -> Tables:
    """The fast LALR driver (`dsl.lalr`) over the same tables, from the
    `fast` part of the tables file; lark is imported only when no file holds
    that part for this grammar."""
    global _fast_instance
    if _fast_instance is None:
        grammar = _read(_GRAMMAR_FILE)
        data = None
        for path in _table_files():
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                fast = json.loads(_read_path(path))["fast"]
                if fast["grammar"] == grammar and fast["format"] == lalr.FORMAT:
                    data = fast
                    break
        if data is None:
            doc = _save_to_cache(_build(None))
            data = doc["fast"]
        _fast_instance = Tables(data, builder)
    return _fast_instance


def cache_dir() -> str:
    """Where tables for an edited grammar are kept (never inside the package)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "chatflow")


def _table_files() -> Iterator[str]:
    """The shipped tables, then the cached ones for this grammar (the cache
    is only looked up when the shipped ones do not fit)."""
    yield os.path.join(_DIR, _TABLES_FILE)
    yield _cache_file()


def _cache_file() -> str:
    return os.path.join(cache_dir(), f"flow_tables-{_grammar_text()[1][:16]}.json")


def _read(name: str) -> str:
    return _read_path(os.path.join(_DIR, name))


def _read_path(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _grammar_text() -> tuple[str, str]:
    import hashlib

    text = _read(_GRAMMAR_FILE)
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


def _tables_key() -> dict[str, str]:
    import lark

    return {"grammar_sha256": _grammar_text()[1], "lark_version": lark.__version__}


def _load_tables(builder: object) -> Any:
    """lark's parser from the first tables file made from this grammar by
    this lark version; None when there is none."""
    from chatflow.dsl import lark_shim

    key = _tables_key()
    for path in _table_files():
        try:
            doc = json.loads(json.loads(_read_path(path))["lark"])
            if doc.get("key") != key:
                continue
            data, memo = lark_shim.int_keys(doc["data"], doc["memo"])
            return lark_shim.load_from_dict(data, memo, builder)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return None


def _build(builder: object | None) -> Any:
    from lark import Lark

    return Lark(_grammar_text()[0], parser="lalr", lexer="contextual", start=list(STARTS),
                maybe_placeholders=True, transformer=builder)


def _build_and_save(builder: object) -> Any:
    inst = _build(builder)
    _save_to_cache(inst)
    return inst


def _tables_doc(inst: Any) -> dict[str, Any]:
    """The tables file's content: lark's serialized parser (as one JSON
    string, decoded only when lark is needed, so reading the file for the
    fast driver parses half as much) and the fast driver's tables."""
    from chatflow.dsl import lark_shim

    data, memo = lark_shim.serialize(inst)
    lark_doc = json.dumps({"key": _tables_key(), "data": data, "memo": memo},
                          separators=(",", ":"), sort_keys=True)
    return {"lark": lark_doc, "fast": lalr.export(inst, _read(_GRAMMAR_FILE))}


def _save_to_cache(inst: Any) -> dict[str, Any]:
    """Write the tables of `inst` to the user's cache (best effort: a
    read-only home still parses, rebuilding the tables per process)."""
    doc = _tables_doc(inst)
    with contextlib.suppress(OSError):
        path = _cache_file()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write_atomically(path, doc)
    return doc


def write_tables() -> None:
    """Regenerate the shipped `flow_tables.json` from the grammar (a
    development step after editing `flow.lark`, never done at run time)."""
    _write_atomically(os.path.join(_DIR, _TABLES_FILE), _tables_doc(_build(None)))


def _write_atomically(target: str, doc: dict[str, Any]) -> None:
    import tempfile

    folder = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".flow_tables.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, separators=(",", ":"), sort_keys=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
