"""E0201 unknown-name: An expression uses a name that is not a param, var, step, group or `ctx`
(with a "did you mean").

Found by the expression typer; this rule reports what it found.
"""

from __future__ import annotations

from chatflow.compiler.rules.base import Rule, reported_by_analysis
from chatflow.diagnostics import Severity

RULE = Rule(
    "E0201", "unknown-name",
    'An expression uses a name that is not a param, var, step, group or `ctx` '
    '(with a "did you mean").',
    Severity.ERROR, reported_by_analysis("E0201"),
)
