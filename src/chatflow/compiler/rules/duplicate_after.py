"""W0109 duplicate-after: the same step or group is named twice in one `after`.

Found by the graph builder; this rule reports what it found.
"""

from __future__ import annotations

from chatflow.compiler.rules.base import Rule, reported_by_analysis
from chatflow.diagnostics import Severity

RULE = Rule(
    "W0109", "duplicate-after",
    "The same step or group is named twice in one `after` list.",
    Severity.WARNING, reported_by_analysis("W0109"),
)
