"""E0310 builtin-arguments: Wrong number or types of arguments to a built-in function (or a bad
`matches` regex).

Found by the expression typer; this rule reports what it found.
"""

from __future__ import annotations

from chatflow.compiler.rules.base import Rule, reported_by_analysis
from chatflow.diagnostics import Severity

RULE = Rule(
    "E0310", "builtin-arguments",
    'Wrong number or types of arguments to a built-in function (or a bad `matches` regex).',
    Severity.ERROR, reported_by_analysis("E0310"),
)
