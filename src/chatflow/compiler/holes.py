"""An unknown name that stands alone in a string's `{…}`: most likely braces
meant as text — the shell's `${HOME}`, awk's `{print}` — not a typo in an
interpolation. The diagnostic is put at the braces, and its hint shows the
two ways to write them as text (escaped braces, or a raw string)."""

from __future__ import annotations

from chatflow.diagnostics import Span
from chatflow.dsl import ast
from chatflow.dsl.strings import escape_note, raw_hint

__all__ = ["after_dollar", "unknown_in_hole"]


def after_dollar(template: ast.Template, index: int) -> bool:
    """Is hole `index` of `template` right after a `$` (the shell's `${NAME}`)?"""
    before = template.parts[index - 1] if index > 0 else ""
    return isinstance(before, str) and before.endswith("$")


def unknown_in_hole(name: ast.Name, template: ast.Template, index: int,
                    source: str | None) -> tuple[str, Span, str]:
    """(message, span, hint) of E0201 for `name`, the part `index` of
    `template`; `source` is the text of the file the spans point into."""
    dollar = after_dollar(template, index)
    n = name.name
    span = _braces(source, name.span) or name.span
    if dollar:
        message = f"unknown name `{n}`: in `${{{n}}}`, `{{` starts an interpolation"
        hint = f"to keep `${{{n}}}` as text write `$\\{{{n}\\}}`{escape_note(span.file)}"
    else:
        message = f"unknown name `{n}`: `{{{n}}}` in a string is an interpolation"
        hint = f"for literal braces write `\\{{{n}\\}}`{escape_note(span.file)}"
    text = _as_text(template, index)
    if text is not None:
        hint += ", " + raw_hint(span.file, text)
    return message, span, hint


def _braces(source: str | None, span: Span) -> Span | None:
    """The span of the `{` … `}` around `span` when the file has them there
    (blanks allowed inside the braces); None otherwise."""
    if source is None or span.line != span.end_line or span.end > len(source):
        return None
    start, end = span.start, span.end
    while start > 0 and source[start - 1] in " \t":
        start -= 1
    while end < len(source) and source[end] in " \t":
        end += 1
    if start == 0 or source[start - 1] != "{" or end >= len(source) or source[end] != "}":
        return None
    width = span.column - (span.start - start) - 1
    return Span(span.file, span.line, width, span.line,
                span.end_column + (end - span.end) + 1, start - 1, end + 1)


def _as_text(template: ast.Template, index: int) -> str | None:
    """The template's text with the hole `index` written back as `{NAME}`,
    when it has no other hole (else a raw string would lose them)."""
    out: list[str] = []
    for i, part in enumerate(template.parts):
        if isinstance(part, str):
            out.append(part)
        elif i == index and isinstance(part, ast.Name):
            out.append("{" + part.name + "}")
        else:
            return None
    return "".join(out)
