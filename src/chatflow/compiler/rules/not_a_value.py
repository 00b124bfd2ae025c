"""E0214 not-a-value: A step, group or `ctx` used as a value instead of one of its fields.

Found by the expression typer; this rule reports what it found.
"""

from __future__ import annotations

from chatflow.compiler.rules.base import Rule, reported_by_analysis
from chatflow.diagnostics import Severity

RULE = Rule(
    "E0214", "not-a-value",
    'A step, group or `ctx` used as a value instead of one of its fields.',
    Severity.ERROR, reported_by_analysis("E0214"),
)
