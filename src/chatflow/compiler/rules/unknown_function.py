"""E0211 unknown-function: A call of a function that is not one of the built-ins.

Found by the expression typer; this rule reports what it found.
"""

from __future__ import annotations

from chatflow.compiler.rules.base import Rule, reported_by_analysis
from chatflow.diagnostics import Severity

RULE = Rule(
    "E0211", "unknown-function",
    'A call of a function that is not one of the built-ins.',
    Severity.ERROR, reported_by_analysis("E0211"),
)
