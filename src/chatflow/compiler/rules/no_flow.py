"""E0115 no-flow: a source file that defines no flow: empty, only comments or
whitespace, only imports, or an empty YAML document. `lint` and `compile`
report it the same way for `.flow` and YAML files (a file to compile must
hold a flow to run)."""

from __future__ import annotations

from chatflow.compiler.rules.base import Rule
from chatflow.diagnostics import Severity

# reported by the loader (chatflow.compiler.loader) for every file it is asked to check
RULE = Rule("E0115", "no-flow",
            "A file that defines no flow (empty, only comments, only imports, or an empty "
            "YAML document).",
            Severity.ERROR, None)
