"""Run-time value helpers: type checks against IR type strings, JSON text,
deep equality and descriptions used in messages."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.runtime.values import (
    check_type,
    describe,
    is_json_value,
    json_text,
    to_text,
    values_equal,
)


@pytest.mark.parametrize(("value", "type_str", "fits"), [
    ("x", "str", True), (1, "str", False), (None, "str", False), (None, "str?", True),
    (3, "int", True), (True, "int", False), (3.0, "int", False),
    (3, "float", True), (2.5, "float", True), (float("inf"), "float", False),
    (False, "bool", True), (0, "bool", False),
    (1500, "duration", True), (1.5, "duration", False),
    ([1, 2], "list[int]", True), ([1, "a"], "list[int]", False), ([], "list[str]", True),
    ([1, None], "list[int?]", True), ([1, None], "list[int]", False),
    (None, "list[int]?", True), ({"a": 1}, "map[int]", True), ({"a": "b"}, "map[int]", False),
    ({"a": [1.5]}, "map[list[float]]", True), ([[1], [2, 3]], "list[list[int]]", True),
    ({"a": {"b": [None, True]}}, "json", True), (None, "json", True), ({1: 2}, "json", False),
    ({1, 2}, "json", False), ([float("nan")], "json", False), ("x", "map[str]", False),
])
def test_check_type(value: Any, type_str: str, fits: bool) -> None:
    assert check_type(value, type_str) is fits


def test_malformed_type_string_is_a_bug() -> None:
    with pytest.raises(ValueError):
        check_type(1, "integer")
    with pytest.raises(ValueError):
        check_type(1, "list[int")


def test_deep_values_do_not_overflow_type_checks() -> None:
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    assert is_json_value(deep)
    assert check_type(deep, "json")
    assert check_type(deep, "list[int]") is False  # recursion refused, not raised


def test_text_forms() -> None:
    assert to_text("a b") == "a b"
    assert to_text(True) == "true"
    assert to_text(None) == "null"
    assert to_text({"k": ["é", 1.0]}) == '{"k":["é",1.0]}'
    with pytest.raises(ValueError):
        json_text(float("nan"))
    with pytest.raises(ValueError):
        json_text({1, 2})


def test_values_equal() -> None:
    assert values_equal(1, 1.0)
    assert not values_equal(True, 1)
    assert not values_equal(0, False)
    assert values_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not values_equal({"a": 1}, {"b": 1})
    assert not values_equal([1], [1, 2])
    assert not values_equal("1", 1)


def test_describe() -> None:
    assert describe("x") == 'str "x"'
    assert describe(None) == "null"
    assert describe([1, 2]) == "list [1,2]"
    assert describe({"a": 1}) == 'map {"a":1}'
    long = describe("y" * 500)
    assert len(long) < 70 and long.endswith("…")
