"""E0404 after-cycle: Steps and groups that wait for each other in a loop (named once, from the
earliest).

Found by the graph builder; this rule reports what it found.
"""

from __future__ import annotations

from chatflow.compiler.rules.base import Rule, reported_by_analysis
from chatflow.diagnostics import Severity

RULE = Rule(
    "E0404", "after-cycle",
    'Steps and groups that wait for each other in a loop (named once, from the earliest).',
    Severity.ERROR, reported_by_analysis("E0404"),
)
