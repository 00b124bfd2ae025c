"""E0212 unknown-type: A type other than `str int float bool duration json list[T] map[T]` (and
`T?`).

Found by the symbol table; this rule reports what it found.
"""

from __future__ import annotations

from chatflow.compiler.rules.base import Rule, reported_by_analysis
from chatflow.diagnostics import Severity

RULE = Rule(
    "E0212", "unknown-type",
    'A type other than `str int float bool duration json list[T] map[T]` (and `T?`).',
    Severity.ERROR, reported_by_analysis("E0212"),
)
