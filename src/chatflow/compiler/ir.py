"""The IR as data: canonical serialisation and validated loading.

`dumps` is the one way IR becomes bytes (deterministic). `load_ir` is the one
way the runtime gets IR back: version check (version 1 is upgraded, see
`ir_upgrade.py`), JSON Schema check
(`schemas/ir.schema.json`) and cross-reference check, every problem a
`ChatflowError` naming the JSON path. jsonschema is imported only here, and
only when a document is validated.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from chatflow.diagnostics import ChatflowError

IR_VERSION = 2
SUPPORTED_VERSIONS = frozenset({1, IR_VERSION})
"""Version 1 is read as version 2 (`ir_upgrade.py`)."""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def dumps(doc: dict[str, Any]) -> str:
    """The canonical text of an IR document: exactly
    `json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\\n"`.

    The standard library only uses its C encoder without `indent`, and the
    pure-Python one is several times slower than lowering itself, so the same
    text is produced here by a direct recursive writer."""
    # StringIO accumulates far more compactly than a list of small pieces
    # (the pieces of a 10,000-step IR cost ~90 MB as a list).
    buf = io.StringIO()
    _write(doc, "\n", buf.write)
    buf.write("\n")
    return buf.getvalue()


_encode_str = json.encoder.encode_basestring  # the C version when available


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


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema  # lazy: keeps jsonschema off the CLI start-up path

    return jsonschema.Draft202012Validator(_schema())


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
    """Parse (if text) and validate an IR document; return it as a dict."""
    if isinstance(source, str | bytes):
        try:
            doc = json.loads(source)
        except json.JSONDecodeError as exc:
            raise ChatflowError(
                f"invalid IR: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
            ) from None
        except UnicodeDecodeError as exc:
            raise ChatflowError(f"invalid IR: not UTF-8 text ({exc.reason})") from None
    else:
        doc = source
    if not isinstance(doc, dict):
        raise _fail([], f"expected an object, got {_kind(doc)}")
    _check_version(doc)
    if doc["ir_version"] != IR_VERSION:
        from chatflow.compiler.ir_upgrade import upgrade_ir

        doc = upgrade_ir(doc)
    _check_schema(doc)
    _check_references(doc)
    result: dict[str, Any] = doc
    return result


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(value), "a value")


def _check_version(doc: dict[str, Any]) -> None:
    if "ir_version" not in doc:
        raise _fail([], "missing `ir_version` (is this a ChatFlow IR document?)")
    version = doc["ir_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise _fail(["ir_version"], f"expected an integer, got {_kind(version)}")
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_VERSIONS))
        raise _fail(["ir_version"],
                    f"unsupported IR version {version} (this chatflow reads IR versions "
                    f"{supported}; recompile the flow with this version)")


def _check_schema(doc: dict[str, Any]) -> None:
    errors = list(_validator().iter_errors(doc))
    if not errors:
        return
    # Report one error, the most specific: deepest path first, ties broken by
    # path text so the message is deterministic.
    errors = [_most_specific(e) for e in errors]
    err = max(errors, key=lambda e: (len(e.absolute_path), [str(p) for p in e.absolute_path]))
    raise _fail(list(err.absolute_path), _describe(err))


_SHAPE_VALIDATORS = frozenset({"required", "type", "const", "enum"})


def _mismatch(err: Any, depth: int) -> bool:
    """Does `err` say the value is of another shape altogether (wrong type,
    missing key, wrong discriminator) rather than a wrong detail?"""
    extra = len(err.absolute_path) - depth
    return err.validator in _SHAPE_VALIDATORS and extra <= (0 if err.validator != "const"
                                                            and err.validator != "enum" else 1)


def _most_specific(err: Any) -> Any:
    """For `oneOf`/`anyOf` failures, descend into the branch the value was
    evidently meant to match: the one whose shape fits, with the fewest errors."""
    while err.validator in ("oneOf", "anyOf") and err.context:
        depth = len(err.absolute_path)
        branches: dict[Any, list[Any]] = {}
        for sub in err.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        fitting = [b for b in branches.values() if not any(_mismatch(e, depth) for e in b)]
        if not fitting:
            return err
        best = min(fitting, key=len)
        err = max(best, key=lambda e: len(e.absolute_path))
    return err


def _describe(err: Any) -> str:
    if err.validator in ("oneOf", "anyOf"):
        shown = json.dumps(err.instance, ensure_ascii=False)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        what = err.schema.get("title", "value")
        return f"{shown} is not a valid {what} (it matches none of the allowed shapes)"
    return str(err.message)


def _check_references(doc: dict[str, Any]) -> None:
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
        for i, node in enumerate(nodes):
            here: list[str | int] = [*base, "nodes", i]
            for j, dep in enumerate(node["deps"]):
                if dep not in ids:
                    raise _fail([*here, "deps", j], f"dependency `{dep}` is not a node of `{key}`")
                if dep == node["id"]:
                    raise _fail([*here, "deps", j], f"node `{dep}` depends on itself")
            parent = node["parent"]
            if parent is not None:
                group = nodes[ids[parent]]
                if node["id"] not in group.get("members", ()):
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
        for path, ref in _step_refs(flow, base):
            if ref not in ids:
                raise _fail(path, f"expression reads `{ref}`, which is not a node of `{key}`")


def _step_refs(value: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    """Every `{"step": X, "field": F}` expression inside `value`, with its path."""
    stack: list[tuple[Any, list[str | int]]] = [(value, path)]
    while stack:
        v, p = stack.pop()
        if isinstance(v, dict):
            if isinstance(v.get("step"), str) and "field" in v:
                yield [*p, "step"], v["step"]
            stack.extend((sub, [*p, k]) for k, sub in v.items() if isinstance(sub, dict | list))
        elif isinstance(v, list):
            stack.extend((sub, [*p, i]) for i, sub in enumerate(v)
                         if isinstance(sub, dict | list))
