"""Indented JSON text that stays linear in size however deep the data.

`json.dumps(doc, indent=2)` indents every level, so the text of a tree
nested N deep grows with N² (362 MB for the AST of a 1,000-deep map
display). `indented` writes the same text down to `INDENTED_LEVELS` levels
and each container below that on one line, as `json.dumps` without
`indent` writes it. Used for `chatflow compile --emit ast` and the
runtime commands' `--json`; the IR's own
canonical writer (`compiler.ir.dumps`) follows the same rule.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable
from typing import Any

__all__ = ["INDENTED_LEVELS", "indented"]

INDENTED_LEVELS = 64
"""Containers this deep or less are indented; deeper ones take one line."""

_DEEPEST = 1 + 2 * INDENTED_LEVELS  # len(nl) of the deepest indented container


def indented(doc: Any, default: Callable[[Any], Any] | None = None) -> str:
    """`json.dumps(doc, indent=2, ensure_ascii=False, default=default)`, with
    containers deeper than INDENTED_LEVELS on one line. Recursive: call it
    with room for the data's depth (`chatflow.deep`)."""
    buf = io.StringIO()
    dump = functools.partial(json.dumps, ensure_ascii=False, default=default)
    _write(doc, "\n", buf.write, dump)
    return buf.getvalue()


def _write(o: Any, nl: str, app: Callable[[str], Any], dump: Callable[[Any], str]) -> None:
    if isinstance(o, dict | list | tuple) and (len(nl) > _DEEPEST or not o):
        app(dump(o))
        return
    inner = nl + "  "
    if isinstance(o, dict):
        sep = "{" + inner
        for key, value in o.items():
            app(sep + json.dumps(key if isinstance(key, str) else json.dumps(key),
                                 ensure_ascii=False) + ": ")
            _write(value, inner, app, dump)
            sep = "," + inner
        app(nl + "}")
    elif isinstance(o, list | tuple):
        sep = "[" + inner
        for item in o:
            app(sep)
            _write(item, inner, app, dump)
            sep = "," + inner
        app(nl + "]")
    else:
        app(dump(o))
