"""E0205 import-cycle: files that import each other in a loop."""

from __future__ import annotations

from chatflow.compiler.rules.base import Rule
from chatflow.diagnostics import Severity

# reported by the loader (chatflow.compiler.loader), at the import that closes the loop
RULE = Rule("E0205", "import-cycle", "Files that import each other in a loop.",
            Severity.ERROR, None)
