"""The one registry of diagnostic codes: every phase that reports a code
registers it here with its kebab-case name, one-line description and
severity — the `.flow` syntax errors (`dsl.syntax_errors`), the YAML
front-end (`dsl.yaml_front`) and each checker rule (`compiler.rules`).

The rule catalog (SARIF's `rules`, `docs/diagnostics.md`) is read from it by
`diagnostic_format.known_rules`. A code is registered once: registering it
again with other details is a programming error and raises `ValueError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chatflow.diagnostics import Severity

__all__ = ["CodeInfo", "register", "register_table", "registered"]


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What the catalog says about one diagnostic code."""

    code: str
    name: str
    description: str
    severity: str = "error"


_CODES: dict[str, CodeInfo] = {}


def register(code: str, name: str, description: str,
             severity: Severity | str | None = None) -> CodeInfo:
    """Register `code`; the severity defaults to the code's letter (`W…` a warning)."""
    if severity is None:
        severity = "warning" if code.startswith("W") else "error"
    info = CodeInfo(code, name, description,
                    severity.value if isinstance(severity, Severity) else severity)
    known = _CODES.setdefault(code, info)
    if known != info:
        raise ValueError(f"diagnostic code {code} registered twice: {known} and {info}")
    return info


def register_table(table: Mapping[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Register a front-end's table, code → (name, description); returns it."""
    for code, (name, description) in table.items():
        register(code, name, description)
    return dict(table)


def registered() -> list[CodeInfo]:
    """Every registered code, sorted by code."""
    return sorted(_CODES.values(), key=lambda c: c.code)
