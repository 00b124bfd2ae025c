"""E0203 unknown-after: `after` names something that is not a step or group of the flow.

Found by the graph builder; this rule reports what it found.
"""

from __future__ import annotations

from chatflow.compiler.rules.base import Rule, reported_by_analysis
from chatflow.diagnostics import Severity

RULE = Rule(
    "E0203", "unknown-after",
    '`after` names something that is not a step or group of the flow.',
    Severity.ERROR, reported_by_analysis("E0203"),
)
