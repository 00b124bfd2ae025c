"""The one diagnostic type every phase reports problems with.

Phases never raise on bad user input: they return a list of `Diagnostic`s and
keep going.  `sort_diagnostics` gives the stable order (file, position, code)
every renderer and test relies on, and drops exact duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open source range. Lines and columns are 1-based; `end_column`
    is exclusive, so a one-character token at column 5 has end_column 6.
    `start`/`end` are 0-based character offsets into the file text."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int = 0
    end: int = 0

    @staticmethod
    def unknown(file: str = "<unknown>") -> Span:
        return Span(file, 1, 1, 1, 1, 0, 0)

    def to(self, other: Span) -> Span:
        """The span from the start of `self` to the end of `other`."""
        return Span(
            self.file, self.line, self.column, other.end_line, other.end_column,
            self.start, other.end,
        )

    def as_dict(self) -> dict[str, int | str]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }


class Severity(str, Enum):  # noqa: UP042 (StrEnum would change str(Severity.ERROR))
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Related:
    """A secondary location that explains a diagnostic ("first defined here")."""

    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span
    hint: str | None = None
    related: tuple[Related, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.span.file, self.span.line, self.span.column, self.code, self.message)


def error(code: str, message: str, span: Span, hint: str | None = None,
          related: tuple[Related, ...] = ()) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, span, hint, related)


def warning(code: str, message: str, span: Span, hint: str | None = None,
            related: tuple[Related, ...] = ()) -> Diagnostic:
    return Diagnostic(code, Severity.WARNING, message, span, hint, related)


def sort_diagnostics(diags: list[Diagnostic] | tuple[Diagnostic, ...]) -> list[Diagnostic]:
    """Source order, exact duplicates removed."""
    seen: set[Diagnostic] = set()
    out: list[Diagnostic] = []
    for d in sorted(diags, key=Diagnostic.sort_key):
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def has_errors(diags: list[Diagnostic] | tuple[Diagnostic, ...]) -> bool:
    return any(d.is_error for d in diags)


class ChatflowError(Exception):
    """The one project error type for I/O and run-time problems (not source
    diagnostics). It says what went wrong; the CLI chooses the exit code from
    the class (`UsageError` is 2, every other `ChatflowError` 1)."""

    def __init__(self, message: str, diagnostics: list[Diagnostic] | None = None,
                 sources: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.diagnostics = diagnostics or []
        self.sources: dict[str, str] = sources or {}


class UsageError(ChatflowError):
    """The request cannot be carried out as asked: a bad argument, input, config
    or flow, a file, flow, instance or step that does not exist."""
