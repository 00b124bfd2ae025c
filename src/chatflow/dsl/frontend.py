"""Pick the front-end for a source file by its extension: `.flow` → the
grammar parser, `.yaml`/`.yml` → the YAML front-end. Both give the same AST."""

from __future__ import annotations

from chatflow.diagnostics import Diagnostic
from chatflow.dsl import ast

YAML_SUFFIXES = (".yaml", ".yml")


def is_yaml(path: str) -> bool:
    return path.lower().endswith(YAML_SUFFIXES)


def parse_source(path: str, text: str) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse `text` (the content of `path`) with the front-end its extension
    names; anything not YAML is read as `.flow`."""
    if is_yaml(path):
        # Imported here so `.flow`-only runs never load PyYAML.
        from chatflow.dsl.yaml_front import parse_yaml

        return parse_yaml(text, path)
    from chatflow.dsl.parser import parse_flow

    return parse_flow(text, path)
