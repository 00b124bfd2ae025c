"""Render diagnostics for people (text; docs/cli.md, "Diagnostics") and for tools
(JSON, SARIF 2.1.0).

Text layout rules (kept stable; golden tests pin them):

* header ``error[E0203]: message`` (``warning[W0101]: ...`` for warnings);
* ``  --> file:line:col``, then a gutter ``   |``, the numbered source line and a
  line of carets under the exact span. A span that runs over several lines
  gets carets from its start to the end of its first line;
* the hint follows the carets on the same line (``^^^^^ did you mean ...``)
  when it is a single line and the caret line stays within 100 columns;
  otherwise it is printed as its own ``   = help: ...`` line;
* each related span is a ``note: message`` sub-block with its own arrow,
  source line and ``-----`` underline;
* tabs in a source line are shown as four spaces, and wide (East Asian) characters
  count as two columns, so carets always sit under the spanned text;
* one blank line between diagnostics, then a summary: ``error: 2 errors, 1 warning
  emitted`` (``warning: 1 warning emitted`` when there are only warnings; nothing
  when there are no diagnostics).

Colour (plain ANSI) is used only when the output stream is a terminal and the
``NO_COLOR`` environment variable is unset or empty.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from chatflow.diagnostic_codes import CodeInfo, registered
from chatflow.diagnostics import Diagnostic, Related, Severity, Span

TAB_WIDTH = 4
MAX_INLINE_HINT_WIDTH = 100
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/chatflow/chatflow"


# --------------------------------------------------------------------------- colour


@dataclass(frozen=True, slots=True)
class Style:
    """ANSI escape sequences; every field is "" when colour is off."""

    error: str = ""
    warning: str = ""
    note: str = ""
    help: str = ""
    gutter: str = ""
    bold: str = ""
    reset: str = ""


PLAIN = Style()
ANSI = Style(
    error="\x1b[1;31m",
    warning="\x1b[1;33m",
    note="\x1b[1;36m",
    help="\x1b[1;32m",
    gutter="\x1b[1;34m",
    bold="\x1b[1m",
    reset="\x1b[0m",
)


def use_color(stream: TextIO) -> bool:
    """True when `stream` is a terminal and NO_COLOR is not set."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def _severity_style(severity: Severity, style: Style) -> str:
    if severity is Severity.ERROR:
        return style.error
    if severity is Severity.WARNING:
        return style.warning
    return style.note


# --------------------------------------------------------------------------- columns


def _char_width(ch: str) -> int:
    if ch == "\t":
        return TAB_WIDTH
    if unicodedata.combining(ch):
        return 0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 2
    return 1


def _display(text: str) -> str:
    """The source line as shown: tabs expanded to TAB_WIDTH spaces, no line break."""
    return text.rstrip("\r\n").replace("\t", " " * TAB_WIDTH)


def _width(text: str) -> int:
    return sum(_char_width(ch) for ch in text)


def _underline(line_text: str, span: Span) -> tuple[int, int]:
    """(indent, length) in display columns of the underline for `span` on its first line."""
    start = max(span.column - 1, 0)
    start = min(start, len(line_text))
    end = max(span.end_column - 1, start) if span.end_line == span.line else len(line_text)
    end = min(end, len(line_text))
    indent = _width(line_text[:start])
    length = max(_width(line_text[start:end]), 1)
    return indent, length


# --------------------------------------------------------------------------- text


class SourceLookup:
    """Source lines by file, from a mapping of file → text (read lazily from disk
    as a fallback, so diagnostics on imported files still show their line)."""

    def __init__(self, sources: Mapping[str, str] | None = None) -> None:
        self._sources = dict(sources or {})
        self._lines: dict[str, list[str] | None] = {}

    def line(self, file: str, number: int) -> str | None:
        lines = self._lines.get(file)
        if file not in self._lines:
            text = self._sources.get(file)
            if text is None:
                try:
                    with open(file, encoding="utf-8", errors="replace") as fh:
                        text = fh.read()
                except OSError:
                    text = None
            lines = text.split("\n") if text is not None else None
            self._lines[file] = lines
        if lines is None or number < 1:
            return None
        if number > len(lines):
            # A span just past the end (an unexpected end of input): an empty line.
            return "" if number == len(lines) + 1 else None
        return lines[number - 1].rstrip("\r")


def _gutter_width(diag: Diagnostic) -> int:
    numbers = [diag.span.line] + [r.span.line for r in diag.related]
    return max(len(str(n)) for n in numbers)


def _snippet(
    out: list[str], span: Span, label: str | None, marker: str, colour: str,
    width: int, lookup: SourceLookup, style: Style,
) -> None:
    pad = " " * width
    out.append(f"{pad}{style.gutter}--> {style.reset}{span.file}:{span.line}:{span.column}")
    raw = lookup.line(span.file, span.line)
    if raw is None:
        if label:
            out.append(f"{pad} {style.gutter}={style.reset} {style.bold}help{style.reset}: {label}")
        return
    out.append(f"{pad} {style.gutter}|{style.reset}")
    number = str(span.line).ljust(width)
    shown = _display(raw)
    out.append(f"{style.gutter}{number} |{style.reset}" + (f" {shown}" if shown else ""))
    indent, length = _underline(raw, span)
    marks = " " * indent + marker * length
    inline = label is not None and "\n" not in label and (
        width + 3 + len(marks) + 1 + _width(label) <= MAX_INLINE_HINT_WIDTH
    )
    line = f"{pad} {style.gutter}|{style.reset} {colour}{marks}"
    if inline and label:
        line += f" {label}"
    out.append(line + style.reset)
    if label and not inline:
        for i, part in enumerate(label.split("\n")):
            lead = f"{pad} {style.gutter}={style.reset} {style.bold}help{style.reset}: " if i == 0 \
                else f"{pad}         "
            out.append(lead + part)


def render_one(diag: Diagnostic, lookup: SourceLookup, style: Style = PLAIN) -> str:
    """One diagnostic as text, without a trailing newline."""
    sev = diag.severity.value
    colour = _severity_style(diag.severity, style)
    width = _gutter_width(diag)
    out = [f"{colour}{sev}[{diag.code}]{style.reset}{style.bold}: {diag.message}{style.reset}"]
    _snippet(out, diag.span, diag.hint, "^", colour, width, lookup, style)
    for rel in diag.related:
        out.append(f"{style.note}note{style.reset}{style.bold}: {rel.message}{style.reset}")
        _snippet(out, rel.span, None, "-", style.note, width, lookup, style)
    return "\n".join(out)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary_line(diags: Sequence[Diagnostic], style: Style = PLAIN) -> str | None:
    """`error: 2 errors, 1 warning emitted`, `warning: 1 warning emitted`, or None."""
    errors = sum(1 for d in diags if d.severity is Severity.ERROR)
    warnings = sum(1 for d in diags if d.severity is Severity.WARNING)
    if errors:
        counts = _plural(errors, "error")
        if warnings:
            counts += ", " + _plural(warnings, "warning")
        return f"{style.error}error{style.reset}{style.bold}: {counts} emitted{style.reset}"
    if warnings:
        return f"{style.warning}warning{style.reset}{style.bold}: " \
               f"{_plural(warnings, 'warning')} emitted{style.reset}"
    return None


def render_text(
    diags: Sequence[Diagnostic], sources: Mapping[str, str] | None = None,
    color: bool = False, summary: bool = True,
) -> str:
    """All diagnostics as text (blank line between them), plus the summary line.
    Returns "" when there is nothing to report; otherwise ends with a newline."""
    if not diags:
        return ""
    style = ANSI if color else PLAIN
    lookup = SourceLookup(sources)
    blocks = [render_one(d, lookup, style) for d in diags]
    text = "\n\n".join(blocks) + "\n"
    if summary:
        line = summary_line(diags, style)
        if line:
            text += "\n" + line + "\n"
    return text


# --------------------------------------------------------------------------- json


def _related_dict(rel: Related) -> dict[str, Any]:
    return {"message": rel.message, **rel.span.as_dict()}


def diagnostic_dict(diag: Diagnostic) -> dict[str, Any]:
    """The `--format json` object of one diagnostic."""
    return {
        "code": diag.code,
        "severity": diag.severity.value,
        "message": diag.message,
        **diag.span.as_dict(),
        "hint": diag.hint,
        "related": [_related_dict(r) for r in diag.related],
    }


def render_json(diags: Iterable[Diagnostic]) -> str:
    """A JSON array of diagnostic objects, newline-terminated."""
    return json.dumps([diagnostic_dict(d) for d in diags], indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- sarif


RuleInfo = CodeInfo
"""What SARIF lists about one diagnostic code (`chatflow.diagnostic_codes`)."""


def known_rules() -> list[RuleInfo]:
    """Every code the project documents: the one registry of codes
    (`chatflow.diagnostic_codes`), once the phases that report codes have
    registered theirs (they do when imported)."""
    import chatflow.compiler.rules
    import chatflow.dsl.syntax_errors
    import chatflow.dsl.yaml_front  # noqa: F401  (the three register their codes)

    return registered()


def _sarif_level(severity: Severity | str) -> str:
    value = severity.value if isinstance(severity, Severity) else severity
    return {"error": "error", "warning": "warning"}.get(value, "note")


def _uri(path: str) -> str:
    from urllib.parse import quote

    return quote(path.replace(os.sep, "/"), safe="/:._-~")


def _region(span: Span) -> dict[str, int]:
    return {
        "startLine": max(span.line, 1),
        "startColumn": max(span.column, 1),
        "endLine": max(span.end_line, span.line, 1),
        "endColumn": max(span.end_column, 1),
    }


def _location(span: Span) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(span.file)},
            "region": _region(span),
        }
    }


def sarif_document(
    diags: Sequence[Diagnostic], rules: Sequence[RuleInfo] | None = None, version: str = "",
) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run; `rules` defaults to `known_rules()`."""
    catalog = {r.code: r for r in (known_rules() if rules is None else rules)}
    for d in diags:
        if d.code not in catalog:
            catalog[d.code] = RuleInfo(d.code, d.code, "", _sarif_level(d.severity))
    ordered = sorted(catalog.values(), key=lambda r: r.code)
    index = {r.code: i for i, r in enumerate(ordered)}
    rule_objs = []
    for r in ordered:
        obj: dict[str, Any] = {
            "id": r.code,
            "name": r.name,
            "defaultConfiguration": {"level": _sarif_level(r.severity)},
        }
        if r.description:
            obj["shortDescription"] = {"text": r.description}
        rule_objs.append(obj)
    results = []
    for d in diags:
        text = d.message + (f" ({d.hint})" if d.hint else "")
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": _sarif_level(d.severity),
            "message": {"text": text},
            "locations": [_location(d.span)],
        }
        if d.related:
            result["relatedLocations"] = [
                {"id": i, "message": {"text": r.message}, **_location(r.span)}
                for i, r in enumerate(d.related)
            ]
        results.append(result)
    driver: dict[str, Any] = {
        "name": "chatflow",
        "informationUri": INFORMATION_URI,
        "rules": rule_objs,
    }
    if version:
        driver["version"] = version
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def render_sarif(diags: Sequence[Diagnostic], version: str = "") -> str:
    return json.dumps(sarif_document(diags, version=version), indent=2, ensure_ascii=False) + "\n"
