"""Lexical details the grammar leaves to Python: string escapes and `{EXPR}`
holes, the layout of multi-line strings, numbers with `_` separators, and
durations.

Pure functions over text; they report problems as `LexProblem`s with offsets
relative to the text they were given, and the parser turns those into
diagnostics with real file positions.
"""

from __future__ import annotations

import re
from typing import NamedTuple

ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "{": "{", "}": "}"}

DURATION_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

MAX_INT = 2**63 - 1

PLACEHOLDER_CODES = frozenset({"E0103", "E0104", "E0108", "E0109"})
"""Problems after which the parser goes on with a stand-in for the text it
could not read (0 for a malformed number, the text of a string with a bad
escape or hole): later phases say nothing inside their spans, since what is
there is not what the user wrote (one mistake, one report)."""

_SPECIAL = re.compile(r"[\\{}]")
_DIGITS = r"[0-9]+(?:_[0-9]+)*"
_INT_RE = re.compile(_DIGITS + r"\Z")
_FLOAT_RE = re.compile(
    _DIGITS + r"(?:\." + _DIGITS + r"(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)\Z"
)
_DURATION_RE = re.compile("(" + _DIGITS + r")(ms|s|m|h|d)\Z")


# Small immutable records as NamedTuples: a frozen dataclass costs ~1 ms of
# start-up each to create, a NamedTuple a fifth of that.


class Hole(NamedTuple):
    """An interpolation `{EXPR}`: `start`/`end` delimit EXPR inside the text."""

    start: int
    end: int
    text: str


class LexProblem(NamedTuple):
    code: str
    message: str
    start: int
    end: int
    hint: str | None = None


def has_specials(content: str) -> bool:
    """True when the text needs `scan_string` (escapes, braces)."""
    return _SPECIAL.search(content) is not None


def _hole_end(content: str, i: int) -> int:
    """Index of the `}` closing the hole whose text starts at `i`, or -1.
    Nested braces (map literals), nested "strings" and backslash pairs are
    skipped, as the grammar's STRING terminal skips them; a hole ends on the
    line it starts."""
    depth = 0
    n = len(content)
    while i < n:
        ch = content[i]
        if ch == '"':
            i += 1
            while i < n and content[i] != '"' and content[i] != "\n":
                i += 2 if content[i] == "\\" else 1
            if i >= n or content[i] == "\n":
                return -1
        elif ch == "\\":
            i += 1
        elif ch == "\n":
            return -1
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def scan_string(content: str) -> tuple[list[str | Hole], list[LexProblem]]:
    """Split string content into decoded text parts and `Hole`s.

    Text parts never are empty and two text parts are never adjacent.
    """
    parts: list[str | Hole] = []
    problems: list[LexProblem] = []
    buf: list[str] = []
    i = 0
    n = len(content)
    while i < n:
        m = _SPECIAL.search(content, i)
        if m is None:
            buf.append(content[i:])
            break
        j = m.start()
        if j > i:
            buf.append(content[i:j])
        ch = content[j]
        if ch == "\\":
            nxt = content[j + 1] if j + 1 < n else ""
            if nxt in ESCAPES and nxt:
                buf.append(ESCAPES[nxt])
            else:
                shown = nxt if nxt else ""
                problems.append(LexProblem(
                    "E0103", f"invalid escape `\\{shown}` in a string",
                    j, min(j + 2, n),
                    "the escapes are \\n \\t \\\" \\\\ \\{ \\}; write `\\\\` for a backslash",
                ))
                buf.append(nxt)
            i = j + 2
        elif ch == "{":
            end = _hole_end(content, j + 1)
            if end < 0:
                problems.append(LexProblem(
                    "E0108", "unclosed `{` in a string", j, j + 1,
                    "close the interpolation with `}`, or write `\\{` for a literal brace",
                ))
                buf.append(content[j:])
                break
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(Hole(j + 1, end, content[j + 1:end]))
            i = end + 1
        else:  # a lone "}"
            problems.append(LexProblem(
                "E0108", "unmatched `}` in a string", j, j + 1,
                "write `\\}` for a literal brace",
            ))
            buf.append("}")
            i = j + 1
    if buf:
        parts.append("".join(buf))
    return parts, problems


def decode_plain(content: str) -> tuple[str, list[LexProblem]]:
    """Decode a string that must not contain holes (map keys, import paths)."""
    parts, problems = scan_string(content)
    out: list[str] = []
    for p in parts:
        if isinstance(p, Hole):
            problems.append(LexProblem(
                "E0108", "interpolation is not allowed here", p.start - 1, p.end + 1,
                "write `\\{` and `\\}` for literal braces",
            ))
        else:
            out.append(p)
    return "".join(out), problems


class Layout(NamedTuple):
    """A triple-quoted string's value before escapes are decoded: `text`,
    and where each of its lines starts, as (index in `text`, index in the
    string's content) pairs, so positions map back to the file."""

    text: str
    lines: tuple[tuple[int, int], ...]
    problems: list[LexProblem]


def block_layout(content: str, quote: str) -> Layout:
    """The value of a triple-quoted string whose content (between the
    delimiters) is `content`; `quote` is the delimiter, for messages.

    A string written on one line is taken as written. One that spans lines
    starts with a line break right after the opening delimiter and ends with
    the closing delimiter on a line of its own; the spaces and tabs before
    the closing delimiter are the indentation, removed from every line (each
    line must start with exactly it, unless it is a blank line, which then
    becomes empty). The first and the last line break are not part of the
    value; `\r\n` becomes `\n`. (YAML's literal block scalars read the same
    lines the same way: the twin of this form.) Breaking a rule is reported (E0116) and the value
    is still built as well as it can be."""
    first = content.find("\n")
    if first < 0:
        return Layout(content, ((0, 0),), [])
    problems: list[LexProblem] = []
    if content[:first].strip(" \t\r"):
        problems.append(LexProblem(
            "E0116", f"a multi-line string starts on the line after its opening `{quote}`",
            0, len(content[:first].rstrip("\r")),
            f"break the line right after `{quote}`, or close the string on this line",
        ))
    last = content.rfind("\n")
    tail = content[last + 1:]
    indent = tail[:len(tail) - len(tail.lstrip(" \t"))]
    bodies: list[tuple[str, int]] = []  # (line text, index of its start in `content`)
    if indent != tail:
        problems.append(LexProblem(
            "E0116", f"the closing `{quote}` of a multi-line string goes on a line of its own",
            last + 1 + len(indent), len(content),
            f"end the text with a line break before `{quote}`: the spaces before `{quote}` "
            "are the indentation removed from every line",
        ))
    start = first + 1
    if start <= last:
        for line in content[start:last].split("\n"):
            bodies.append((line, start))
            start += len(line) + 1
    if indent != tail:
        bodies.append((tail, last + 1))
    text: list[str] = []
    lines: list[tuple[int, int]] = []
    size = 0
    for line, at in bodies:
        line = line[:-1] if line.endswith("\r") else line
        cut = len(indent)
        if not line.startswith(indent) and not line.strip(" \t"):
            line, cut = "", 0  # a blank line shorter than the indentation
        elif not line.startswith(indent):
            cut = len(line) - len(line.lstrip(" \t"))
            problems.append(LexProblem(
                "E0116", f"this line is indented less than the closing `{quote}`",
                at + cut, at + len(line.rstrip(" \t")),
                f"indent every line of the string with the {_describe(indent)} before the "
                f"closing `{quote}`: they are removed from each line",
            ))
            cut = min(cut, len(indent))
        if text:
            size += 1
        lines.append((size, at + cut))
        text.append(line[cut:])
        size += len(line) - cut
    return Layout("\n".join(text), tuple(lines) or ((0, first + 1),), problems)


def _describe(indent: str) -> str:
    spaces, tabs = indent.count(" "), indent.count("\t")
    words = []
    if spaces:
        words.append(f"{spaces} space" + ("s" if spaces > 1 else ""))
    if tabs:
        words.append(f"{tabs} tab" + ("s" if tabs > 1 else ""))
    return " and ".join(words) if words else "no indentation"


def layout_index(layout: Layout, k: int) -> int:
    """The index in the string's content of `layout.text[k]`."""
    lines = layout.lines
    lo, hi = 0, len(lines) - 1
    while lo < hi:  # the last line starting at or before k
        mid = (lo + hi + 1) // 2
        if lines[mid][0] <= k:
            lo = mid
        else:
            hi = mid - 1
    at, offset = lines[lo]
    return offset + (k - at)


class NumberValue(NamedTuple):
    """The meaning of a NUMBER token: kind is "int", "float", "duration"
    (value in milliseconds) or "error" (message in `error`)."""

    kind: str
    value: int | float
    error: str = ""


def classify_number(text: str) -> NumberValue:
    if _INT_RE.match(text):
        try:
            v = int(text.replace("_", ""))
        except ValueError:  # beyond Python's digit limit
            return NumberValue("error", 0, f"integer `{_short(text)}` is too large")
        if v > MAX_INT:
            return NumberValue("error", 0, f"integer `{_short(text)}` is too large")
        return NumberValue("int", v)
    m = _DURATION_RE.match(text)
    if m:
        try:
            amount = int(m.group(1).replace("_", ""))
        except ValueError:
            amount = MAX_INT + 1
        ms = amount * DURATION_UNITS_MS[m.group(2)]
        if ms > MAX_INT:
            return NumberValue("error", 0, f"duration `{_short(text)}` is too large")
        return NumberValue("duration", ms)
    if _FLOAT_RE.match(text):
        try:
            f = float(text.replace("_", ""))
        except ValueError:
            f = float("inf")
        if f == float("inf"):
            return NumberValue("error", 0, f"number `{_short(text)}` is too large")
        return NumberValue("float", f)
    return NumberValue("error", 0, _number_problem(text))


def _short(text: str) -> str:
    return text if len(text) <= 24 else text[:20] + "..."


_FRACTIONAL = re.compile(r"([0-9]+(?:_[0-9]+)*\.[0-9]+(?:_[0-9]+)*)(ms|s|m|h|d)\Z")


def whole_duration(text: str) -> str | None:
    """`1.5m` → `90s`: a fractional duration written as a whole number of the
    largest unit that holds it exactly; None when `text` is not one, or it is
    no whole number of milliseconds."""
    m = _FRACTIONAL.match(text)
    if m is None:
        return None
    from fractions import Fraction

    ms = Fraction(m.group(1).replace("_", "")) * DURATION_UNITS_MS[m.group(2)]
    if ms.denominator != 1 or ms == 0 or ms > MAX_INT:
        return None
    for unit, size in sorted(DURATION_UNITS_MS.items(), key=lambda u: -u[1]):
        if ms % size == 0:
            return f"{int(ms) // size}{unit}"
    return None  # pragma: no cover - `ms` divides every whole number


def number_hint(text: str) -> str | None:
    """The hint for a malformed number (E0104): the exact duration, or how
    durations are written."""
    whole = whole_duration(text)
    if whole is not None:
        return f"write `{whole}`"
    if any(ch.isalpha() for ch in text):
        return "durations are written like 500ms, 30s, 10m, 2h or 1d"
    return None


def _number_problem(text: str) -> str:
    t = _short(text)
    if "__" in text or text.endswith("_") or "_." in text or "._" in text:
        return f"malformed number `{t}`: `_` must sit between two digits"
    if _FRACTIONAL.match(text):
        return f"malformed duration `{t}`: a duration is a whole number of one unit"
    m = re.match(r"[0-9_]+([A-Za-z]+)\Z", text)
    if m:
        return (f"malformed duration `{t}`: unknown unit `{m.group(1)}` "
                "(use ms, s, m, h or d)")
    return f"malformed number `{t}`"
