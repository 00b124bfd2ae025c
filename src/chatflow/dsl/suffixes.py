"""Which front-end reads a file, by its name: `.yaml`/`.yml` the YAML one,
anything else the grammar (kept apart from `frontend` so the parser's string
decoding can ask without importing the front-ends)."""

from __future__ import annotations

YAML_SUFFIXES = (".yaml", ".yml")


def is_yaml(path: str) -> bool:
    return path.lower().endswith(YAML_SUFFIXES)
