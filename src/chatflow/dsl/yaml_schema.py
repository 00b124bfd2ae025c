"""The JSON Schema of the YAML form, and its violations as located diagnostics.

`schema_text()` is what `chatflow schema yaml` prints. `validate()` runs the
schema (jsonschema is imported only here, only when a YAML file is parsed) and
turns each `ValidationError` into an E0111/E0114 diagnostic at the YAML node
its `absolute_path` leads to, in words a person understands.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from chatflow.diagnostics import Diagnostic, Span, error
from chatflow.dsl.yaml_nodes import Plain, YMap, YNode, YScalar, lookup, to_plain
from chatflow.plugins.builtin import BUILTIN

KIND_KEYS = ("step", "phase", "parallel", "repeat")
ACTION_KEYS = tuple(BUILTIN)
"""The built-in action kinds, from the action registry (`chatflow.plugins`);
an installed plugin's kind is an action key too (`schema_with`)."""
STEP_KEYS = frozenset(("step", "after", "when", "value", "timeout", "retry", "risk",
                       "continue_on_error", "prompt", "cwd", "with", "env", "out",
                       *ACTION_KEYS))
"""The keys of a step the shipped schema knows (a test keeps it in step)."""
GROUP_KINDS = ("phase", "parallel", "repeat")
GROUP_CLAUSES: dict[str, str] = {
    "max": "`max` belongs to a `parallel` or `repeat` group",
    "until": "`until` belongs to a `repeat` group",
}
"""Group clauses the YAML builder reads on every group: where one does not
fit the group's kind the checker reports it (E0407), so the schema's
complaint about the same key is dropped when the builder could read it."""


def schema_text() -> str:
    """The schema document, as shipped in the package."""
    return (resources.files("chatflow") / "schemas" / "flow.schema.json").read_text("utf-8")


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


@cache
def _validator(plugin_kinds: tuple[str, ...] = ()) -> Any:
    from jsonschema import Draft202012Validator  # lazy: heavy, YAML-only

    return Draft202012Validator(schema_with(plugin_kinds))


def schema_with(plugin_kinds: tuple[str, ...]) -> dict[str, Any]:
    """The schema, with a step action key for each of these installed plugin
    kinds (a template, like `shell`) and a step key for each of their options
    (a value field, like a `with` entry; the checker says which kind takes
    which option and types it)."""
    base = schema()
    if not plugin_kinds:
        return base
    from chatflow.plugins import find_kind

    doc: dict[str, Any] = json.loads(json.dumps(base))
    step = doc["$defs"]["step"]
    for name in plugin_kinds:
        kind = find_kind(name)
        if kind is None:
            continue
        step["properties"][name] = {"$ref": "#/$defs/template"}
        step["oneOf"].append({"required": [name]})
        for option in kind.options:
            step["properties"].setdefault(option, {"$ref": "#/$defs/value"})
    return doc


def plugin_action_keys(data: Plain) -> tuple[str, ...]:
    """The installed plugin kinds used as a step's action key in `data` (the
    installed distributions are scanned only when a step has a key the
    schema does not know)."""
    known = schema()["$defs"]["step"]["properties"]
    found: list[str] = []
    todo = [data]
    while todo:
        item = todo.pop()
        if isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, dict):
            if "step" in item:
                found.extend(k for k in item if isinstance(k, str) and k not in known
                             and _is_plugin_kind(k) and k not in found)
            todo.extend(item.values())
    return tuple(sorted(found))


def validate(root: YNode) -> list[Diagnostic]:
    """Every schema violation of `root`, each located at its YAML node."""
    data = to_plain(root)
    try:
        errors = list(_validator(plugin_action_keys(data)).iter_errors(data))
    except RecursionError:
        return [error("E0113", "the YAML document is nested too deeply", root.span)]
    out: list[Diagnostic] = []
    for err in errors:
        out.extend(_ErrorMapper(root, err).diagnostics())
    return out


_TYPE_WORDS = {
    "string": "a string", "integer": "an integer", "number": "a number",
    "boolean": "true or false", "object": "a mapping", "array": "a list", "null": "null",
}


def describe_value(value: Plain) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}` (a boolean)"
    if isinstance(value, int):
        return f"`{value}` (an integer)"
    if isinstance(value, float):
        return f"`{value}` (a number)"
    if isinstance(value, str):
        return f"the string `{value}`" if value else "an empty string"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean `{matches[0]}`?" if matches else None


def describe_mapping(node: YMap, path: tuple[str | int, ...]) -> str:
    """"step `build`", "flow `feature`", "`quota`" ... for messages."""
    for kind in KIND_KEYS:
        name = node.get(kind)
        if isinstance(name, YScalar) and isinstance(name.value, str):
            return f"{kind} `{name.value}`"
    name = node.get("flow")
    if not path and "flows" in node:
        return "the file"
    if not path or (len(path) == 2 and path[0] == "flows"):
        if isinstance(name, YScalar) and isinstance(name.value, str):
            return f"flow `{name.value}`"
        return "the flow" if path else "the file"
    return f"`{_label(path)}`"


def _label(path: tuple[str | int, ...]) -> str:
    """The nearest key name of a path, with list positions: `after[1]`."""
    suffix = ""
    for step in reversed(path):
        if isinstance(step, int):
            suffix = f"[{step}]" + suffix
        else:
            return step + suffix
    return "item" + suffix


class _ErrorMapper:
    def __init__(self, root: YNode, err: Any) -> None:
        self.root = root
        self.err = err
        self.path: tuple[str | int, ...] = tuple(err.absolute_path)
        self.node, self.key = lookup(root, self.path)
        self.schema: dict[str, Any] = err.schema if isinstance(err.schema, dict) else {}

    def span(self) -> Span:
        if self.node is not None:
            return self.node.span
        return self.root.span

    def head_span(self) -> Span:
        """Where to point for a problem with a whole mapping: its key, else
        its first key, else the mapping."""
        if self.key is not None:
            return self.key.span
        if isinstance(self.node, YMap) and self.node.entries:
            return self.node.entries[0].key.span
        return self.span()

    def in_group(self) -> bool:
        """Is the failing schema a group's (`phase`, `parallel`, `repeat`)?"""
        return self.schema.get("title") in GROUP_KINDS

    def where(self) -> str:
        if isinstance(self.node, YMap):
            return describe_mapping(self.node, self.path)
        return f"`{_label(self.path)}`"

    def diagnostics(self) -> list[Diagnostic]:
        handlers: dict[str, Callable[[], list[Diagnostic]]] = {
            "oneOf": self.on_one_of,
            "additionalProperties": self.on_additional_properties,
            "required": self.on_required,
            "dependentRequired": self.on_dependent_required,
            "type": self.on_type,
            "pattern": self.on_pattern,
            "enum": self.on_enum,
            "minItems": self.on_min_items,
        }
        handler = handlers.get(str(self.err.validator))
        if handler is None:
            return [error("E0111", f"{self.where()}: {self.err.message}", self.span())]
        return handler()

    # ------------------------------------------------------------------ keywords

    def on_one_of(self) -> list[Diagnostic]:
        # only steps use oneOf (exactly one action): reported as E0112 by the builder
        return []

    def on_additional_properties(self) -> list[Diagnostic]:
        if not isinstance(self.node, YMap):
            return []
        allowed = list(self.schema.get("properties", {}))
        kinds = [k for k in KIND_KEYS if k in self.node]
        out: list[Diagnostic] = []
        for entry in self.node.entries:
            key = entry.key.text
            if key in allowed:
                continue
            if len(kinds) > 1 and key in KIND_KEYS:
                continue  # E0112 from the builder: an item of several kinds
            if key in GROUP_CLAUSES and self.in_group() and isinstance(entry.value, YScalar) \
                    and entry.value.value is not None:
                continue  # read as an expression: E0407 from the checker
            out.append(error("E0111", f"unknown key `{key}` in {self.where()}",
                             entry.key.span, self.unknown_key_hint(key, allowed)))
        return out

    def unknown_key_hint(self, key: str, allowed: list[str]) -> str | None:
        if key == "flow" and self.path == () and "flows" in allowed:
            return "a file holds either one flow (`flow:`) or a list of them (`flows:`)"
        hint = suggest(key, allowed)
        if hint is not None:
            return hint
        if key in GROUP_CLAUSES:
            return GROUP_CLAUSES[key]
        if key == "value" and "set" not in allowed:
            return "`value` goes with a `set` action"

        if allowed:
            return "expected one of " + ", ".join(f"`{k}`" for k in allowed)
        return None

    def on_required(self) -> list[Diagnostic]:
        instance = self.err.instance
        if not isinstance(instance, dict):
            return []
        out: list[Diagnostic] = []
        present = [k for k in instance if k not in self.schema.get("properties", {})]
        for name in self.err.validator_value:
            if name in instance:
                continue
            if name in GROUP_CLAUSES and self.in_group():
                continue  # E0407 from the checker: `repeat NAME needs max N ...`
            if difflib.get_close_matches(name, present, n=1, cutoff=0.6):
                continue  # the misspelt key's "did you mean" already says it
            hint = None
            if name == "flow" and not self.path:
                hint = "a file starts with `flow: NAME` (one flow) or holds `flows:` (a list)"
            elif name == "step" and isinstance(self.node, YMap):
                hint = ("an item of `steps` is a step (`step: NAME` and one action) or a "
                        "group (`phase:`, `parallel:` or `repeat:` with `steps:`)")
            out.append(error("E0111", f"missing required key `{name}` in {self.where()}",
                             self.head_span(), hint))
        return out

    def on_dependent_required(self) -> list[Diagnostic]:
        if not isinstance(self.node, YMap):
            return []
        out: list[Diagnostic] = []
        for key, needed in self.err.validator_value.items():
            entry = self.node.entry(key)
            if entry is None:
                continue
            for other in needed:
                if other not in self.node:
                    out.append(error(
                        "E0111", f"`{key}` needs `{other}` in {self.where()}", entry.key.span,
                        hint="a `set` step is `set: VAR` with `value: EXPR`"))
        return out

    def on_type(self) -> list[Diagnostic]:
        instance = self.err.instance
        if isinstance(self.node, YMap) and isinstance(instance, str):
            return self.bad_key_name(instance)  # a propertyNames failure
        if self.schema.get("title") == "duration":
            return self.bad_duration(instance)
        if not self.path:
            return [error("E0111", f"a ChatFlow YAML file must be a mapping, not "
                          f"{describe_value(instance)}", self.span(),
                          "start with `flow: NAME` (one flow) or `flows:` (a list of flows)")]
        expected = self.schema.get("title")
        types = self.schema.get("type")
        if expected is None or expected in ("string", "integer", "true or false"):
            names = types if isinstance(types, list) else [types]
            expected = " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in names)
        else:
            expected = ("an " if expected[0] in "aeiou" else "a ") + expected
        hint = None
        if isinstance(instance, float | int) and "string" in (types or ()):
            hint = f'quote it: "{self.node.text if isinstance(self.node, YScalar) else instance}"'
        elif instance is None:
            hint = "the value is missing"
        return [error("E0111", f"`{_label(self.path)}` must be {expected}, not "
                      f"{describe_value(instance)}", self.span(), hint)]

    def on_pattern(self) -> list[Diagnostic]:
        instance = self.err.instance
        if isinstance(self.node, YMap) and isinstance(instance, str):
            return self.bad_key_name(instance)
        if self.schema.get("title") == "duration":
            return self.bad_duration(instance)
        if self.schema.get("title") == "name":
            return [error("E0111", f"`{instance}` is not a valid name", self.span(),
                          "names are letters, digits and `_`, not starting with a digit")]
        return [error("E0111", f"`{_label(self.path)}`: {self.err.message}", self.span())]

    def on_enum(self) -> list[Diagnostic]:
        choices = ", ".join(f"`{c}`" for c in self.err.validator_value)
        hint = suggest(str(self.err.instance), [str(c) for c in self.err.validator_value])
        return [error("E0111", f"`{_label(self.path)}` must be one of {choices}, not "
                      f"{describe_value(self.err.instance)}", self.span(), hint)]

    def on_min_items(self) -> list[Diagnostic]:
        return [error("E0111", f"`{_label(self.path)}` must not be empty", self.span())]

    # ------------------------------------------------------------------ helpers

    def bad_key_name(self, name: str) -> list[Diagnostic]:
        assert isinstance(self.node, YMap)
        entry = self.node.entry(name)
        span = entry.key.span if entry is not None else self.span()
        return [error("E0111", f"`{name}` is not a valid name", span,
                      "names are letters, digits and `_`, not starting with a digit")]

    def bad_duration(self, instance: Plain) -> list[Diagnostic]:
        if isinstance(instance, int | float) and not isinstance(instance, bool):
            text = self.node.text if isinstance(self.node, YScalar) else str(instance)
            return [error("E0114", f"`{_label(self.path)}` must be a duration with a unit, "
                          f"not the bare number `{text}`", self.span(),
                          f"write `{text}s`, `{text}m`, ... (units: ms, s, m, h, d)")]
        return [error("E0114", f"`{_label(self.path)}` must be a duration, not "
                      f"{describe_value(instance)}", self.span(),
                      "a duration is a whole number followed by ms, s, m, h or d: `30s`, `10m`")]


def _is_plugin_kind(key: str) -> bool:
    """Whether `key` names an installed plugin's action kind (the installed
    distributions are scanned only here, for a key already in error)."""
    from chatflow.plugins import find_kind

    kind = find_kind(key)
    return kind is not None and not kind.builtin
