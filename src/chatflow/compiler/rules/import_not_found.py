"""E0204 import-not-found: an imported file that does not exist, or a name it does not define."""

from __future__ import annotations

from chatflow.compiler.rules.base import Rule
from chatflow.diagnostics import Severity

# reported by the loader (chatflow.compiler.loader), before any flow is checked
RULE = Rule("E0204", "import-not-found",
            "An imported file that does not exist, or a name it (or `std`) does not define.",
            Severity.ERROR, None)
