"""E0210 unknown-field: A field that does not exist: `unit.nope`, `ctx.nope`, or `.f` on a value
that is not `json` or a map.

Found by the expression typer; this rule reports what it found.
"""

from __future__ import annotations

from chatflow.compiler.rules.base import Rule, reported_by_analysis
from chatflow.diagnostics import Severity

RULE = Rule(
    "E0210", "unknown-field",
    'A field that does not exist: `unit.nope`, `ctx.nope`, or `.f` on a value '
    'that is not `json` or a map.',
    Severity.ERROR, reported_by_analysis("E0210"),
)
