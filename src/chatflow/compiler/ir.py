"""The IR format's one home: what the compiler and the runtime both use of it.

`dumps` is the one way IR becomes bytes (deterministic). `load_ir` is the one
way the runtime gets IR from outside the compiler: version check (version 1
is upgraded, see `ir_upgrade.py`), shape check (`compiler.ir_check`, linear
in the document's size; `schemas/ir.schema.json` is its published
description) and cross-reference check, every problem a `ChatflowError`
naming the JSON path. `expr_text` / `duration_text` (from `ir_text.py`)
print IR expressions in source syntax. The runtime imports the compiler only
here and through `compiler.api` (compiling a source file); a test checks it.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from chatflow.compiler.ir_check import (
    MAX_EXPR_DEPTH,
    Collected,
    IRProblem,
    check_document,
    kind_of,
    path_parts,
)
from chatflow.compiler.ir_text import duration_text, expr_text, string_literal
from chatflow.diagnostics import ChatflowError
from chatflow.json_text import INDENTED_LEVELS

__all__ = [
    "IR_VERSION",
    "MAX_EXPR_DEPTH",
    "SUPPORTED_VERSIONS",
    "dump",
    "dumps",
    "duration_text",
    "expr_text",
    "ir_schema",
    "json_path",
    "load_ir",
    "string_literal",
    "upgrade_ir",
]

IR_VERSION = 2
PLUGIN_IR_VERSION = 3
"""Version 3 is version 2 plus plugin kinds' actions; the compiler writes it
only for a document that has one (docs/ir.md, "Versions")."""
SUPPORTED_VERSIONS = frozenset({1, IR_VERSION, PLUGIN_IR_VERSION})
"""Version 1 is read as version 2 (`ir_upgrade.py`)."""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def dumps(doc: dict[str, Any]) -> str:
    """The canonical text of an IR document: exactly
    `json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\\n"`,
    except that a container nested deeper than `INDENTED_LEVELS` is written on
    its line as `json.dumps(o, sort_keys=True, ensure_ascii=False)` would:
    indenting every level makes the text quadratic in the depth (80 MB for a
    1,000-deep expression), and a deep tree would cost that to print, pin
    and hash at every start.

    The standard library only uses its C encoder without `indent`, and the
    pure-Python one is several times slower than lowering itself, so the same
    text is produced here by a direct recursive writer."""
    # StringIO accumulates far more compactly than a list of small pieces
    # (the pieces of a 10,000-step IR cost ~90 MB as a list).
    buf = io.StringIO()
    _write(doc, "\n", buf.write)
    buf.write("\n")
    return buf.getvalue()


def dump(doc: dict[str, Any], write: Callable[[str], object]) -> None:
    """Write `dumps(doc)` piece by piece through `write` (a file's `write`):
    the whole text of a large IR is never in memory at once."""
    _write(doc, "\n", write)
    write("\n")


_encode_str = json.encoder.encode_basestring  # the C version when available

_DEEPEST_INDENTED = 1 + 2 * INDENTED_LEVELS  # len(nl) of the deepest indented container


def _scalar(o: Any) -> str | None:
    """The JSON text of a scalar, None for containers."""
    t = type(o)
    if t is str:
        return _encode_str(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if t is int:
        return int.__repr__(o)
    if t is float:
        return json.dumps(o)  # exactly as the json module writes floats
    return None


def _write(o: Any, nl: str, app: Any) -> None:
    """Write the indented JSON of `o`; `nl` is a newline plus the current indent."""
    t = type(o)
    if len(nl) > _DEEPEST_INDENTED and (t is dict or t is list or t is tuple):
        app(json.dumps(o, sort_keys=True, ensure_ascii=False))
        return
    if t is dict:
        if not o:
            app("{}")
            return
        inner = nl + "  "
        sep = "{" + inner
        for key in sorted(o):
            if type(key) is not str:
                raise TypeError(f"IR keys must be strings, got {key!r}")
            v = o[key]
            text = _scalar(v)
            if text is not None:
                app(sep + _encode_str(key) + ": " + text)
            else:
                app(sep + _encode_str(key) + ": ")
                _write(v, inner, app)
            sep = "," + inner
        app(nl + "}")
    elif t is list or t is tuple:
        if not o:
            app("[]")
            return
        inner = nl + "  "
        sep = "[" + inner
        for item in o:
            text = _scalar(item)
            if text is not None:
                app(sep + text)
            else:
                app(sep)
                _write(item, inner, app)
            sep = "," + inner
        app(nl + "]")
    else:
        text = _scalar(o)
        if text is None:
            raise TypeError(f"not JSON data: {type(o).__name__}")
        app(text)


def ir_schema() -> dict[str, Any]:
    """The IR JSON Schema shipped in the package."""
    return dict(_schema())


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    from importlib import resources

    text = resources.files("chatflow").joinpath("schemas/ir.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def json_path(parts: Iterator[str | int] | list[str | int] | tuple[str | int, ...]) -> str:
    """`["flows", "std:bugfix", "nodes", 3]` → `$.flows["std:bugfix"].nodes[3]`."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif _IDENT.match(p):
            out += f".{p}"
        else:
            out += "[" + json.dumps(p, ensure_ascii=False) + "]"
    return out


def _fail(path: list[str | int] | tuple[str | int, ...], message: str) -> ChatflowError:
    return ChatflowError(f"invalid IR at {json_path(path)}: {message}")


def load_ir(source: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """Parse (if text) and validate an IR document; return it as a dict.

    Validation is linear in the document's size whatever its shape
    (`compiler.ir_check`): use it for IR from a file, a store or a caller;
    IR the compiler has just produced in this process needs none."""
    if isinstance(source, str | bytes):
        try:
            doc = json.loads(source)
        except json.JSONDecodeError as exc:
            raise ChatflowError(
                f"invalid IR: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
            ) from None
        except UnicodeDecodeError as exc:
            raise ChatflowError(f"invalid IR: not UTF-8 text ({exc.reason})") from None
        except RecursionError:
            raise ChatflowError("invalid IR: nested too deeply to read (no IR this chatflow "
                                "writes nests so deep)") from None
    else:
        doc = source
    if not isinstance(doc, dict):
        raise _fail([], f"expected an object, got {kind_of(doc)}")
    _check_version(doc)
    if doc["ir_version"] == 1:  # only version 1 needs the shell lexer
        doc = upgrade_ir(doc)
    try:
        found = check_document(doc)
    except IRProblem as problem:
        raise _fail(path_parts(problem.path), problem.message) from None
    _check_references(doc, found)
    result: dict[str, Any] = doc
    return result


def upgrade_ir(doc: dict[str, Any]) -> dict[str, Any]:
    """Version-1 IR read as version 2 (`ir_upgrade.py`; loads the shell lexer)."""
    from chatflow.compiler.ir_upgrade import upgrade_ir as upgrade

    return upgrade(doc)


def _check_version(doc: dict[str, Any]) -> None:
    if "ir_version" not in doc:
        raise _fail([], "missing `ir_version` (is this a ChatFlow IR document?)")
    version = doc["ir_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise _fail(["ir_version"], f"expected an integer, got {kind_of(version)}")
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_VERSIONS))
        raise _fail(["ir_version"],
                    f"unsupported IR version {version} (this chatflow reads IR versions "
                    f"{supported}; recompile the flow with this version)")


def _check_references(doc: dict[str, Any], found: Collected) -> None:
    """What the shape cannot say: ids that must name nodes, flows or vars."""
    flows: dict[str, Any] = doc["flows"]
    if doc["entry"] not in flows:
        raise _fail(["entry"], f"entry flow `{doc['entry']}` is not in `flows`")
    for key, flow in flows.items():
        base: list[str | int] = ["flows", key]
        nodes = flow["nodes"]
        ids: dict[str, int] = {}
        for i, node in enumerate(nodes):
            if node["id"] in ids:
                raise _fail([*base, "nodes", i, "id"], f"duplicate node id `{node['id']}`")
            ids[node["id"]] = i
        for i, node in enumerate(nodes):
            parent = node["parent"]
            if parent is not None and parent not in ids:
                raise _fail([*base, "nodes", i, "parent"],
                            f"parent `{parent}` is not a node of `{key}`")
        var_names = {v["name"] for v in flow["vars"]}
        members_of = {n["id"]: frozenset(n["members"]) for n in nodes if "members" in n}
        for i, node in enumerate(nodes):
            here: list[str | int] = [*base, "nodes", i]
            for j, dep in enumerate(node["deps"]):
                if dep not in ids:
                    raise _fail([*here, "deps", j], f"dependency `{dep}` is not a node of `{key}`")
                if dep == node["id"]:
                    raise _fail([*here, "deps", j], f"node `{dep}` depends on itself")
            parent = node["parent"]
            if parent is not None and node["id"] not in members_of.get(parent, ()):
                raise _fail([*here, "parent"],
                            f"`{parent}` does not list `{node['id']}` among its members")
            for j, member in enumerate(node.get("members", ())):
                if member not in ids:
                    raise _fail([*here, "members", j],
                                f"member `{member}` is not a node of `{key}`")
                if nodes[ids[member]]["parent"] != node["id"]:
                    raise _fail([*here, "members", j],
                                f"member `{member}` does not have `{node['id']}` as parent")
            action = node.get("action")
            if action is not None:
                if action["type"] == "call" and action["flow"] not in flows:
                    raise _fail([*here, "action", "flow"],
                                f"called flow `{action['flow']}` is not in `flows`")
                if action["type"] == "set" and action["var"] not in var_names:
                    raise _fail([*here, "action", "var"],
                                f"`{action['var']}` is not a var of `{key}`")
        for path, ref in found.step_reads.get(key, ()):
            if ref not in ids:
                raise _fail(path_parts(path),
                            f"expression reads `{ref}`, which is not a node of `{key}`")
