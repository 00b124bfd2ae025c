"""`chatflow.json_text.indented`: json.dumps(indent=2) text, linear in depth."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chatflow.deep import room
from chatflow.json_text import INDENTED_LEVELS, indented

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30)


@given(_json)
@settings(max_examples=300, deadline=None)
def test_shallow_data_reads_as_json_dumps_writes_it(doc: Any) -> None:
    assert indented(doc) == json.dumps(doc, indent=2, ensure_ascii=False)


def test_deep_data_is_indented_to_a_depth_then_on_one_line() -> None:
    deep: Any = 1
    for _ in range(1000):
        deep = {"node": "Map", "items": [deep]}
    with room():
        text = indented(deep)
        assert json.loads(text) == deep
    assert len(text) < 100_000  # json.dumps(indent=2) writes ~8 MB
    assert text.count("\n") < 4 * INDENTED_LEVELS


def test_default_turns_other_objects_into_json_as_json_dumps_does() -> None:
    from pathlib import Path

    doc = {"p": Path("/x"), "l": [Path("y"), 1]}
    assert indented(doc, default=str) == json.dumps(doc, indent=2, default=str)
