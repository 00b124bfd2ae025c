"""E0312 optional-member-access: Member access or indexing on a value that may be null (`T?`).

Found by the expression typer; this rule reports what it found.
"""

from __future__ import annotations

from chatflow.compiler.rules.base import Rule, reported_by_analysis
from chatflow.diagnostics import Severity

RULE = Rule(
    "E0312", "optional-member-access",
    'Member access or indexing on a value that may be null (`T?`).',
    Severity.ERROR, reported_by_analysis("E0312"),
)
