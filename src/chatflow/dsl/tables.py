"""The LALR tables of the `.flow` grammar: loaded from `flow_tables.json`, or
rebuilt from `flow.lark` when the grammar (or lark) changed.

Building the tables costs ~100 ms, too much for a CLI's cold start, so they are
shipped as plain JSON (never pickle) next to the grammar: lark's own
serialized parser (needed only for error messages) and the same tables for the
fast driver (`dsl.lalr`). Regenerate them after editing the grammar with
`python -c 'from chatflow.dsl.tables import write_tables; write_tables()'`
(a stale file is also rebuilt on first use when the package is writable).
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from chatflow.dsl import lalr
from chatflow.dsl.lalr import Tables

__all__ = ["STARTS", "get_fast", "get_lark", "write_tables"]

_GRAMMAR_FILE = "flow.lark"
_TABLES_FILE = "flow_tables.json"
STARTS = ("module", "expr_start", "type_start")
"""The grammar's start symbols."""
_DIR = os.path.dirname(os.path.abspath(__file__))
_lark_instance: Any = None
_fast_instance: Tables | None = None


def get_lark(builder: object) -> Any:
    """The module-wide Lark parser, with `builder` as its inline transformer.

    Building the LALR tables from the grammar costs ~100 ms, too much for a
    CLI's cold start, so they are kept in `flow_tables.json` next to the
    grammar (plain JSON, never pickle) and rebuilt only when the grammar's
    hash or the lark version no longer match. Only needed for input the fast
    driver (`get_fast`) leaves to lark: syntax errors, and error messages."""
    global _lark_instance
    if _lark_instance is None:
        _lark_instance = _load_tables(builder) or _build_and_save(builder)
    return _lark_instance


def get_fast(builder: object) -> Tables:
    """The fast LALR driver (`dsl.lalr`) over the same tables, from the
    `fast` part of `flow_tables.json`; lark is imported only when that part
    is missing or was made from another grammar."""
    global _fast_instance
    if _fast_instance is None:
        grammar = _read(_GRAMMAR_FILE)
        data = None
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            fast = json.loads(_read(_TABLES_FILE))["fast"]
            if fast["grammar"] == grammar and fast["format"] == lalr.FORMAT:
                data = fast
        if data is None:
            with contextlib.suppress(OSError):  # a read-only install still works
                write_tables()
            data = lalr.export(_build(None), grammar)
        _fast_instance = Tables(data, builder)
    return _fast_instance


def _read(name: str) -> str:
    with open(os.path.join(_DIR, name), encoding="utf-8") as f:
        return f.read()


def _grammar_text() -> tuple[str, str]:
    import hashlib

    text = _read(_GRAMMAR_FILE)
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


def _tables_key() -> dict[str, str]:
    import lark

    return {"grammar_sha256": _grammar_text()[1], "lark_version": lark.__version__}


def _load_tables(builder: object) -> Any:
    from lark import Lark

    try:
        doc = json.loads(json.loads(_read(_TABLES_FILE))["lark"])
        if doc.get("key") != _tables_key():
            return None
        data, memo = _int_keys(doc["data"], doc["memo"])
        return Lark._load_from_dict(data, memo, transformer=builder)  # type: ignore[no-untyped-call]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _int_keys(data: dict[str, Any], memo: dict[str, Any]) -> tuple[dict[str, Any], dict[int, Any]]:
    """Undo JSON's stringified integer keys in lark's serialized tables."""
    table = data["parser"]["parser"]
    table["tokens"] = {int(k): v for k, v in table["tokens"].items()}
    table["states"] = {
        int(k): {int(t): a for t, a in acts.items()} for k, acts in table["states"].items()
    }
    return data, {int(k): v for k, v in memo.items()}


def _build(builder: object | None) -> Any:
    from lark import Lark

    return Lark(_grammar_text()[0], parser="lalr", lexer="contextual", start=list(STARTS),
                maybe_placeholders=True, transformer=builder)


def _build_and_save(builder: object) -> Any:
    inst = _build(builder)
    with contextlib.suppress(OSError):  # a read-only install still works, only slower
        write_tables()
    return inst


def write_tables() -> None:
    """Regenerate `flow_tables.json` from the grammar (atomically): lark's
    serialized parser, and the same tables for the fast driver."""
    import tempfile

    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    inst = _build(None)
    data, memo = inst.memo_serialize([TerminalDef, Rule])
    # lark's part is kept as one JSON string, decoded only when lark is needed,
    # so reading the file for the fast driver parses half as much
    lark_doc = json.dumps({"key": _tables_key(), "data": data, "memo": memo},
                          separators=(",", ":"), sort_keys=True)
    doc = {"lark": lark_doc, "fast": lalr.export(inst, _read(_GRAMMAR_FILE))}
    target = os.path.join(_DIR, _TABLES_FILE)
    fd, tmp = tempfile.mkstemp(dir=_DIR, prefix=".flow_tables.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, separators=(",", ":"), sort_keys=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
