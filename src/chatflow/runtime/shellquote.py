"""Quote interpolated values into a `shell` command according to where they
stand in it.

`shlex.quote` is right only for a value in unquoted position. A template may
put a hole inside its own quotes (`"deploy \"{name}\""`), a command
substitution, backticks, a here-document or a comment, and there the same
quoting would let a hostile value close the author's quotes and run
commands. `ShellContext` follows the POSIX shell's quoting rules over the
template's literal text, part by part, and `quote` escapes each value for the
context it lands in, so the value always reaches the command as literal text.
"""

from __future__ import annotations

import shlex

# contexts (a stack: substitutions nest)
_PLAIN = "plain"          # unquoted, top level or inside $( ... ) / ${ ... }
_SINGLE = "single"        # '...'
_DOUBLE = "double"        # "..."
_BACKTICK = "backtick"    # `...`
_COMMENT = "comment"      # from a word-initial # to the end of the line
_HEREDOC = "heredoc"      # the body of an unquoted-delimiter here-document
_HEREDOC_RAW = "heredoc_raw"  # the body of a quoted-delimiter here-document

_WORD_BREAK = frozenset(" \t\n;&|()<>")


class ShellContext:
    """The shell's lexical state at the end of the text fed so far."""

    def __init__(self) -> None:
        self._stack: list[str] = [_PLAIN]
        self._escaped = False       # a backslash is waiting for its character
        self._prev = "\n"           # the previous character (for word starts)
        self._pending_heredocs: list[tuple[str, bool]] = []  # (delimiter, quoted)
        self._heredoc: tuple[str, bool] | None = None
        self._line = ""             # current line inside a here-document body
        self._line_has_value = False  # ... with characters of an interpolated value

    @property
    def context(self) -> str:
        return self._stack[-1]

    def feed(self, text: str) -> None:
        i = 0
        n = len(text)
        while i < n:
            i = self._step(text, i)

    # ------------------------------------------------------------------ scanner

    def _step(self, text: str, i: int) -> int:
        c = text[i]
        ctx = self._stack[-1]
        if ctx in (_HEREDOC, _HEREDOC_RAW):
            return self._heredoc_step(text, i)
        if self._escaped:
            self._escaped = False
            self._prev = "x"
            return i + 1
        if ctx == _SINGLE:
            if c == "'":
                self._stack.pop()
        elif ctx == _COMMENT:
            if c == "\n":
                self._stack.pop()
                self._newline()
        elif ctx == _DOUBLE:
            if c == "\\":
                self._escaped = True
            elif c == '"':
                self._stack.pop()
            elif c == "`":
                self._stack.append(_BACKTICK)
            elif c == "$" and text.startswith("(", i + 1):
                self._stack.append(_PLAIN + ")")
                i += 1
            # `${...}` inside double quotes stays double-quoted text: a value
            # escaped for double quotes cannot leave it even if it holds `}`
        else:  # plain, $( ), ${ }, backticks
            if c == "\\":
                self._escaped = True
            elif c == "'":
                self._stack.append(_SINGLE)
            elif c == '"':
                self._stack.append(_DOUBLE)
            elif c == "`":
                if ctx == _BACKTICK:
                    self._stack.pop()
                else:
                    self._stack.append(_BACKTICK)
            elif c == "#" and self._prev in _WORD_BREAK:
                self._stack.append(_COMMENT)
            elif c == "$" and text.startswith("(", i + 1):
                self._stack.append(_PLAIN + ")")
                i += 1
            elif c == "$" and text.startswith("{", i + 1):
                self._stack.append(_PLAIN + "}")
                i += 1
            elif c == "(" and ctx.endswith(")"):
                self._stack.append(_PLAIN + ")")
            elif (c == ")" and ctx.endswith(")")) or (c == "}" and ctx.endswith("}")):
                self._stack.pop()
            elif c == "<" and text.startswith("<", i + 1) and not text.startswith("<", i + 2):
                i = self._heredoc_operator(text, i + 2)
                self._prev = "x"
                return i
            elif c == "\n":
                self._newline()
        self._prev = c
        return i + 1

    def _newline(self) -> None:
        if self._pending_heredocs:
            self._heredoc = self._pending_heredocs.pop(0)
            self._stack.append(_HEREDOC_RAW if self._heredoc[1] else _HEREDOC)
            self._line = ""

    def _heredoc_operator(self, text: str, i: int) -> int:
        """After `<<`: read the delimiter word (quoted or not)."""
        if text.startswith("-", i):
            i += 1
        while i < len(text) and text[i] in " \t":
            i += 1
        word: list[str] = []
        quoted = False
        while i < len(text) and text[i] not in _WORD_BREAK:
            c = text[i]
            if c in "'\"":
                quoted = True
                end = text.find(c, i + 1)
                end = len(text) if end < 0 else end
                word.append(text[i + 1:end])
                i = end + 1
                continue
            if c == "\\":
                quoted = True
                i += 1
                if i < len(text):
                    word.append(text[i])
                i += 1
                continue
            word.append(c)
            i += 1
        self._pending_heredocs.append(("".join(word), quoted))
        return i

    def _heredoc_step(self, text: str, i: int) -> int:
        c = text[i]
        if c == "\n":
            assert self._heredoc is not None
            if self._line.lstrip("\t") == self._heredoc[0]:
                if self._line_has_value:
                    raise ShellQuoteError(
                        "an interpolated value would end the here-document "
                        f"`{self._heredoc[0]}` early")
                self._stack.pop()
                self._heredoc = None
                self._prev = "\n"
                self._newline()   # the next pending here-document, if any
            self._line = ""
            self._line_has_value = False
        else:
            self._line += c
        return i + 1

    # ------------------------------------------------------------------ quoting

    def quote(self, value: str) -> str:
        """`value` as literal text at the current position. The returned text
        is fed back into the scanner's state as the value's own text."""
        ctx = self._stack[-1]
        if ctx == _SINGLE:
            out = value.replace("'", "'\\''")
        elif ctx == _DOUBLE:
            out = _escape(value, '\\"$`')
        elif ctx in (_HEREDOC, _HEREDOC_RAW):
            out = _escape(value, "\\$`") if ctx == _HEREDOC else value
            self._heredoc_value(value)
        elif ctx == _COMMENT:
            out = value.replace("\r", " ").replace("\n", " ")
        elif ctx == _BACKTICK:
            out = _escape(shlex.quote(value), "\\$`")
        else:
            out = shlex.quote(value)
        if self._escaped and ctx not in (_SINGLE, _HEREDOC, _HEREDOC_RAW, _COMMENT):
            # the template ends in a backslash that would escape the value's
            # first character: a backslash-newline (line continuation) eats it
            out = "\n" + out
            self._escaped = False
        if ctx not in (_HEREDOC, _HEREDOC_RAW):
            self._prev = "x"
        return out


    def _heredoc_value(self, value: str) -> None:
        """A value inside a here-document body must not form (part of) its
        delimiter line: that would end the document early and run the rest
        as commands."""
        assert self._heredoc is not None
        delimiter = self._heredoc[0]
        lines = (self._line + value).split("\n")
        for line in lines[:-1]:
            if line.lstrip("\t") == delimiter:
                raise ShellQuoteError(
                    f"an interpolated value would end the here-document `{delimiter}` early")
        self._line = lines[-1]
        if len(lines) > 1:
            self._line_has_value = lines[-1] != ""
        elif value:
            self._line_has_value = True


class ShellQuoteError(ValueError):
    """A value that cannot be placed literally where the template puts it."""


def _escape(value: str, chars: str) -> str:
    return "".join("\\" + c if c in chars else c for c in value)
