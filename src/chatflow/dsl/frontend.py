"""Pick the front-end for a source file by its extension: `.flow` → the
grammar parser, `.yaml`/`.yml` → the YAML front-end. Both give the same AST.

`is_flow_yaml` tells ChatFlow's YAML files from the other YAML of a
repository (CI configs, compose files, `.chatflow/config.yaml`) for a
directory walk: a ChatFlow YAML file's top-level mapping has a `flow:` or a
`flows:` key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from chatflow.diagnostics import Diagnostic
from chatflow.dsl import ast
from chatflow.dsl.suffixes import YAML_SUFFIXES, is_yaml

__all__ = ["FLOW_KEYS", "YAML_SUFFIXES", "is_flow_yaml", "is_yaml", "parse_source"]

FLOW_KEYS = frozenset({"flow", "flows"})

# A top-level `flow:` / `flows:` key written in block style, for text that is
# not valid YAML (a broken flow file is still a flow file).
_TOP_LEVEL_FLOW_KEY = re.compile(r"""^["']?flows?["']?[ \t]*:(?:[ \t]|$)""", re.M)


def is_flow_yaml(text: str) -> bool:
    """True when YAML `text` is a ChatFlow file: its (first) document is a
    mapping with a `flow` or `flows` key. Reads PyYAML's event stream up to
    that key or the end of the top-level mapping, so nothing is constructed
    (no alias is expanded) and a flow file is recognised at its first key.
    Text that is not valid YAML counts when a line starts with `flow:` or
    `flows:` (its syntax error is then reported by the YAML front-end)."""
    if "flow" not in text:  # a `flow` key cannot be spelt without these letters
        return False
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return _has_top_level_flow_key(yaml.parse(text, Loader=loader))
    except yaml.YAMLError:
        return _TOP_LEVEL_FLOW_KEY.search(text) is not None


def _has_top_level_flow_key(events: Iterable[Any]) -> bool:
    import yaml

    depth = 0          # collections open around the current event
    at_key = True      # inside the top-level mapping: is the next node a key?
    for event in events:
        if isinstance(event, yaml.StreamStartEvent | yaml.DocumentStartEvent):
            continue
        if isinstance(event, yaml.DocumentEndEvent | yaml.StreamEndEvent):
            return False  # only the first document counts
        opens = isinstance(event, yaml.CollectionStartEvent)
        closes = isinstance(event, yaml.CollectionEndEvent)
        if depth == 0:
            if not isinstance(event, yaml.MappingStartEvent):
                return False  # the document is a scalar or a list
        elif depth == 1 and not closes:
            if at_key and isinstance(event, yaml.ScalarEvent) and event.value in FLOW_KEYS:
                return True
            at_key = not at_key
        if opens:
            depth += 1
        elif closes:
            depth -= 1
            if depth == 0:
                return False  # the end of the top-level mapping
    return False


def parse_source(path: str, text: str) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse `text` (the content of `path`) with the front-end its extension
    names; anything not YAML is read as `.flow`."""
    if is_yaml(path):
        # Imported here so `.flow`-only runs never load PyYAML.
        from chatflow.dsl.yaml_front import parse_yaml

        return parse_yaml(text, path)
    from chatflow.dsl.parser import parse_flow

    return parse_flow(text, path)
