"""String escapes and holes, numbers and durations."""

from __future__ import annotations

import pytest

from chatflow.dsl.lexical import Hole, classify_number, decode_plain, scan_string


def test_scan_plain_and_escapes() -> None:
    parts, problems = scan_string('a\\n\\t\\"\\\\\\{\\}b')
    assert parts == ['a\n\t"\\{}b'] and problems == []


def test_scan_holes_with_nested_strings_and_maps() -> None:
    parts, problems = scan_string('x={a ?? "}"} y={ {k: 1} }')
    assert problems == []
    assert parts == ["x=", Hole(3, 11, 'a ?? "}"'), " y=", Hole(16, 24, " {k: 1} ")]


@pytest.mark.parametrize(("text", "code", "start"), [
    ("a\\qb", "E0103", 1), ("a\\", "E0103", 1), ("a {b", "E0108", 2), ("a } b", "E0108", 2),
])
def test_scan_problems(text: str, code: str, start: int) -> None:
    _, problems = scan_string(text)
    assert [(p.code, p.start) for p in problems] == [(code, start)]


def test_decode_plain_rejects_holes() -> None:
    value, problems = decode_plain("std{x}")
    assert value == "std" and [p.code for p in problems] == ["E0108"]


@pytest.mark.parametrize(("text", "kind", "value"), [
    ("0", "int", 0), ("200_000", "int", 200000), ("1.5", "float", 1.5), ("1e3", "float", 1000.0),
    ("1_0.2_5", "float", 10.25), ("500ms", "duration", 500), ("30s", "duration", 30000),
    ("10m", "duration", 600000), ("2h", "duration", 7200000), ("1d", "duration", 86400000),
    ("9223372036854775807", "int", 2**63 - 1),
])
def test_numbers(text: str, kind: str, value: float) -> None:
    nv = classify_number(text)
    assert (nv.kind, nv.value) == (kind, value)


@pytest.mark.parametrize("text", [
    "1__0", "10_", "12abc", "5y", "1.5s", "9223372036854775808", "9" * 5000, "1e999",
    "106751991167301d",
])
def test_malformed_numbers(text: str) -> None:
    nv = classify_number(text)
    assert nv.kind == "error" and nv.error
