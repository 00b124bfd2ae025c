"""E0311 unrelated-comparison: Comparing values of unrelated types (`1 == "1"`), or `in` with an
item of the wrong type.

Found by the expression typer; this rule reports what it found.
"""

from __future__ import annotations

from chatflow.compiler.rules.base import Rule, reported_by_analysis
from chatflow.diagnostics import Severity

RULE = Rule(
    "E0311", "unrelated-comparison",
    'Comparing values of unrelated types (`1 == "1"`), or `in` with an item of the wrong type.',
    Severity.ERROR, reported_by_analysis("E0311"),
)
