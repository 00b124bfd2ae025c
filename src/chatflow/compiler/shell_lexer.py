"""Lex a `shell` command template and say, for each hole, how the shell
must reference the environment variable that holds its value.

The template is a sequence of items: one-character strings (its text) and
holes (ints >= 0); `OPAQUE` stands for text only known when the command runs
(an expansion, inside the script of a nested shell). The lexer follows the
POSIX shell's grammar, with the bash forms that change where a word or a
substitution ends: quotes, `\\`, `$( )`, `( )`, `${ }` (its name, subscript,
offset and word), backticks, `$(( ))` / `(( ))` / `$[ ]`, `$'…'`, comments,
here-documents (quoted, unquoted, inside substitutions), `case … in pat) … ;;
esac`, `[[ ]]`, and simple commands (`shell_commands.py` says what a command
does with its words). It decides per hole:

- the reference text, by where the hole stands in the shell that expands it:
  `"${N}"` in a plain word or a `${…}` word, `${N}` inside double quotes, an
  unquoted here-document or arithmetic, `'"${N}"'` inside single quotes;
- for a hole inside the script of a nested shell (`sh -c '…'`, `eval`, a
  here-document fed to `bash`, backticks), the reference the nested shell
  needs, written so the outer shell passes it on unexpanded (recursively);
- whether bash evaluates the value as arithmetic (then it must be an integer);
- problems: a hole where the shell needs fixed text, a value that would
  reach a nested shell as code, a quoted here-document that cannot be
  reopened, code for another interpreter, a wrapper that clears the
  environment.

A reference never changes the lexer's state, so the command text does not
depend on any value.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatflow.compiler.shell_scripts import CommandLevel
from chatflow.compiler.shell_state import (
    ANSI,
    ARITH,
    BACKTICK,
    BREAK,
    CMD,
    DQ,
    HDOC,
    HEREDOC,
    MAX_DEPTH,
    NAME_CHAR,
    OPAQUE,
    PARAM,
    PLAIN,
    REFS,
    SPECIAL_PARAMS,
    SQ,
    Analysis,
    Frame,
    Heredoc,
    Item,
    ScannerBase,
    encode,
)

__all__ = ["analyse"]


def analyse(items: Sequence[Item]) -> Analysis:
    out = Analysis()
    _Scanner(items, out, direct=True, depth=0).run()
    return out


class _Scanner(CommandLevel):
    """The character level: frames, quotes, substitutions, here-document
    delimiters and bodies, holes."""

    def run(self) -> None:
        self.scan(0, len(self.items), Frame(CMD))

    def child(self, items: Sequence[Item]) -> ScannerBase:
        return _Scanner(items, self.out, direct=False, depth=self.depth + 1)

    def scan(self, start: int, end: int, frame: Frame) -> None:
        saved = self.end
        self.end = end
        base = len(self.frames)
        self.frames.append(frame)
        pos = start
        while pos < end and len(self.frames) > base:
            pos = self.step(pos)
        while len(self.frames) > base:
            self.close_top()
        self.end = saved

    def close_top(self) -> None:
        f = self.frames[-1]
        if f.kind == CMD:
            self.end_word(f)
            self.end_command(f, "")
        self.frames.pop()
        if f.kind == HDOC:
            self.body_done(f)

    def at(self, pos: int, text: str) -> bool:
        if pos + len(text) > self.end:
            return False
        return all(self.items[pos + k] == ch for k, ch in enumerate(text))

    def step(self, pos: int) -> int:
        f = self.frames[-1]
        x = self.items[pos]
        if isinstance(x, int):
            if x == OPAQUE:
                self.emit(OPAQUE, pos)
            else:
                self.hole(x)
            return pos + 1
        return _STEPS[f.kind](self, f, x, pos)

    def hole(self, h: int) -> None:
        top = self.frames[-1]
        ctx = {DQ: DQ, SQ: SQ, ANSI: ANSI, HDOC: HEREDOC}.get(top.kind, PLAIN)
        p = self.place(h)
        if top.kind == PARAM and top.state == "name":
            self.problem(h, "E0410", "{HOLE} stands where `${…}` needs a variable name",
                         "a value cannot name a shell variable; use the value itself: {HOLE}")
        p.ref = "${NAME}" if top.kind == ARITH or (top.kind == PARAM and top.state in (
            "sub", "offset")) else REFS[ctx]
        self.land(h, ctx)

    def land(self, h: int, ctx: str | None, passed: bool = False) -> None:
        """Record where the value's text goes: into a word of the command
        around it (directly, or through substitutions), or into arithmetic."""
        first = True
        procsub = False
        for f in reversed(self.frames):
            if f.kind in (DQ, SQ, ANSI):
                continue
            if f.kind == ARITH or (f.kind == PARAM and f.state in ("sub", "offset")):
                self.place(h).integer = True
                return
            if f.kind == PARAM:
                passed = True
                continue
            if f.kind == CMD:
                f.cmd_holes.append(h)
            w = self.word_of(f)
            if procsub:
                w.procsub.append(h)   # in the file a `<( )` in this word names
                return
            if first and not passed and ctx is not None:
                w.holes.append((h, ctx))
                w.items.append(h)
            else:
                w.inner.append((h, len(w.items)))
            first = False
            if f.kind == CMD and f.procsub:
                procsub = True
                continue
            if not (f.kind == CMD and f.flows):
                return
            passed = True

    def backtick(self, pos: int, in_dq: bool) -> int:
        """`…`: its text, after the backslash rules of backticks, is parsed
        as a command by this shell (recursively, here too)."""
        decoded: list[Item] = []
        j = pos + 1
        while j < self.end and self.items[j] != "`":
            x = self.items[j]
            if x == "\\" and j + 1 < self.end:
                nxt = self.items[j + 1]
                if isinstance(nxt, str) and (nxt in "$`\\" or (in_dq and nxt == '"')):
                    decoded.append(nxt)
                    j += 2
                    continue
            decoded.append(x)
            j += 1
        self.opaque()
        holes = [x for x in decoded if isinstance(x, int) and x >= 0]
        if holes:
            if self.depth >= MAX_DEPTH:
                for h in holes:
                    self.problem(h, "E0412", "{HOLE} is inside substitutions nested too "
                                 "deeply to place it safely", "use `$( )` instead of backticks")
            else:
                self.child(decoded).run()
            for h in holes:
                self.place(h).ref = encode(self.place(h).ref, BACKTICK)
                self.land(h, None, passed=True)
        return j + 1

    # ------------------------------------------------------------------ shared steps

    def backslash(self, f: Frame, pos: int, special: str) -> int:
        nxt = self.items[pos + 1] if pos + 1 < self.end else None
        if nxt is None:
            self.emit("\\", pos)
            return pos + 1
        if isinstance(nxt, int) and nxt >= 0:
            self.problem(nxt, "E0410", "a `\\` right before {HOLE} would escape the first "
                         "character of the value",
                         "write `\\\\\\\\` for a backslash the shell keeps (it reads `\\\\` "
                         "as one), or remove it")
            return pos + 1
        if nxt == "\n":
            return pos + 2
        if special == "*" or (isinstance(nxt, str) and nxt in special):
            self.emit(nxt, pos)
        else:
            self.emit("\\", pos)
            self.emit(nxt, pos)
        w = self.owner()
        if w is not None and w.word is not None:
            w.word.quoted = True
        return pos + 2

    def dollar(self, pos: int) -> int:
        top = self.frames[-1]
        nxt = self.items[pos + 1] if pos + 1 < self.end else None
        if isinstance(nxt, int) and nxt >= 0:
            self.problem(nxt, "E0410", "a `$` right before {HOLE} would start a parameter "
                         "expansion with the value's first character",
                         "write `\\\\$` for a `$` the shell keeps")
            self.emit("$", pos)
            return pos + 1
        if self.at(pos + 1, "(("):
            self.opaque()
            self.frames.append(Frame(ARITH, close="))"))
            return pos + 3
        if self.at(pos + 1, "("):
            self.opaque()
            self.frames.append(Frame(CMD, close=")", flows=True))
            return pos + 2
        if self.at(pos + 1, "["):
            self.opaque()
            self.frames.append(Frame(ARITH, close="]"))
            return pos + 2
        if self.at(pos + 1, "{"):
            j = pos + 2
            while j < self.end and isinstance(self.items[j], str) and self.items[j] in NAME_CHAR:
                j += 1
            self.opaque("".join(str(c) for c in self.items[pos + 2:j]))
            in_dq = top.kind in (DQ, HDOC) or (top.kind == PARAM and top.in_dq)
            frame = Frame(PARAM, in_dq=in_dq, state="name")
            self.frames.append(frame)
            return self.param_name(frame, pos + 2)
        if top.kind == CMD and (self.at(pos + 1, "'") or self.at(pos + 1, '"')):
            self.word_of(top).quoted = True
            self.frames.append(Frame(ANSI if self.at(pos + 1, "'") else DQ))
            return pos + 2
        if isinstance(nxt, str) and (nxt in NAME_CHAR or nxt in SPECIAL_PARAMS):
            j = pos + 2
            if nxt in NAME_CHAR and not nxt.isdigit():
                while j < self.end and isinstance(self.items[j], str) \
                        and self.items[j] in NAME_CHAR:
                    j += 1
            self.opaque("".join(str(c) for c in self.items[pos + 1:j]))
            return j
        self.emit("$", pos)
        return pos + 1

    def param_name(self, f: Frame, pos: int) -> int:
        """After `${`: the name (with a `#` or `!` prefix), then the state
        for what follows it."""
        j = pos
        if j < self.end and self.items[j] in ("#", "!") and j + 1 < self.end \
                and self.items[j + 1] != "}":
            j += 1
        if j < self.end and isinstance(self.items[j], str) and self.items[j] in NAME_CHAR:
            while j < self.end and isinstance(self.items[j], str) \
                    and self.items[j] in NAME_CHAR:
                j += 1
        elif j < self.end and isinstance(self.items[j], str) and \
                self.items[j] in SPECIAL_PARAMS:
            j += 1
        else:
            return j  # a hole (or garbage) where the name goes: stays in "name"
        return self.param_op(f, j)

    def param_op(self, f: Frame, j: int) -> int:
        if j >= self.end:
            return j
        c = self.items[j]
        if c == "[":
            f.state, f.depth = "sub", 0
            return j + 1
        if c == ":" and j + 1 < self.end and self.items[j + 1] not in ("-", "=", "?", "+"):
            f.state = "offset"
            return j + 1
        f.state = "word"
        return j + 1 if c == ":" else j

    # ------------------------------------------------------------------ here-documents

    def delimiter(self, f: Frame, pos: int, strip: bool) -> int:
        j = pos
        while j < self.end and self.items[j] in (" ", "\t"):
            j += 1
        start = j
        text: list[str] = []
        quoted = False
        in_delim = False
        quote: str | None = None
        while j < self.end:
            x = self.items[j]
            if isinstance(x, int):
                if x >= 0:
                    self.problem(x, "E0410", "{HOLE} stands in a here-document's delimiter, "
                                 "which must be fixed text", "write the delimiter out, e.g. "
                                 "`<<EOF`")
                    in_delim = True
                j += 1
                continue
            if quote is not None:
                if x == quote:
                    quote = None
                else:
                    text.append(x)
            elif x in ("'", '"'):
                quote, quoted = x, True
            elif x == "\\" and j + 1 < self.end:
                quoted = True
                j += 1
                nxt = self.items[j]
                if isinstance(nxt, int):
                    continue
                text.append(nxt)
            elif x in BREAK:
                break
            else:
                text.append(x)
            j += 1
        f.heredocs.append(Heredoc("".join(text), quoted, strip, (start, j),
                                   holes_in_delim=in_delim))
        return j

    def read_bodies(self, pos: int) -> int:
        docs, self.pending = self.pending, []
        for doc in docs:
            start = pos
            body_end = after = self.end
            line = pos
            while line < self.end:
                nl = line
                while nl < self.end and self.items[nl] != "\n":
                    nl += 1
                chars = self.items[line:nl]
                if all(isinstance(c, str) for c in chars):
                    text = "".join(chars)  # type: ignore[arg-type]
                    if (text.lstrip("\t") if doc.strip else text) == doc.delim:
                        body_end, after = line, min(nl + 1, self.end)
                        break
                line = nl + 1
            self.body(doc, start, body_end)
            pos = after
        return pos

    # ------------------------------------------------------------------ frames

    def step_cmd(self, f: Frame, c: str, pos: int) -> int:
        if c == "\\":
            return self.backslash(f, pos, "*")
        if c in " \t":
            self.end_word(f)
            return pos + 1
        if c == "\n":
            self.end_word(f)
            self.end_command(f, "\n")
            return self.read_bodies(pos + 1)
        if c == "#" and f.word is None:
            j = pos
            while j < self.end and self.items[j] != "\n":
                x = self.items[j]
                if isinstance(x, int) and x >= 0:
                    self.place(x).ref = REFS[PLAIN]   # inert in a comment
                j += 1
            return j
        if c in ("'", '"'):
            self.word_of(f).quoted = True
            self.frames.append(Frame(SQ if c == "'" else DQ))
            return pos + 1
        if c == "`":
            self.word_of(f)
            return self.backtick(pos, False)
        if c == "$":
            return self.dollar(pos)
        if c in ";&|":
            return self.operator(f, pos)
        if c == "(":
            return self.open_paren(f, pos)
        if c == ")":
            return self.close_paren(f, pos)
        if c in "<>":
            return self.redirection(f, pos)
        self.word_of(f).items.append(c)
        return pos + 1

    def operator(self, f: Frame, pos: int) -> int:
        for op in (";;&", ";;", ";&"):
            if self.at(pos, op):
                self.end_word(f)
                self.end_command(f, ";")
                if f.case:
                    f.case[-1] = "pattern"
                return pos + len(op)
        if self.at(pos, "&>"):
            self.end_word(f)
            f.redirect = True
            return pos + (3 if self.at(pos, "&>>") else 2)
        op = "".join(str(self.items[pos + k]) for k in range(2) if pos + k < self.end)
        width = 2 if op in ("&&", "||", "|&") else 1
        self.end_word(f)
        if f.dbl and op[:1] in ("&", "|") and width == 2:
            return pos + 2
        self.end_command(f, "|" if op[0] == "|" and op != "||" else op[:width])
        return pos + width

    def open_paren(self, f: Frame, pos: int) -> int:
        if (f.case and f.case[-1] == "pattern") or f.dbl:
            self.end_word(f)
            return pos + 1
        if self.at(pos + 1, "(") and f.word is None and (not f.words or f.after_for):
            f.after_for = False
            self.frames.append(Frame(ARITH, close="))"))
            return pos + 2
        self.end_word(f)
        j = pos + 1
        while j < self.end and self.items[j] in (" ", "\t"):
            j += 1
        if len(f.words) == 1 and self.at(j, ")"):
            f.words = []      # `name ()`: a function definition
            return j + 1
        self.frames.append(Frame(CMD, close=")"))
        return pos + 1

    def close_paren(self, f: Frame, pos: int) -> int:
        self.end_word(f)
        if f.case and f.case[-1] == "pattern":
            f.case[-1] = "body"
            return pos + 1
        if f.dbl:
            return pos + 1
        if f.close == ")":
            self.close_top()
        return pos + 1

    def redirection(self, f: Frame, pos: int) -> int:
        if f.word is not None and f.word.text() is not None and str(f.word.text()).isdigit():
            f.word = None   # a file descriptor number
        self.end_word(f)
        if self.at(pos, "<<<"):
            f.redirect = True
            return pos + 3
        if self.at(pos, "<<"):
            strip = self.at(pos + 2, "-")
            return self.delimiter(f, pos + (3 if strip else 2), strip)
        if self.at(pos, "<(") or self.at(pos, ">("):
            self.word_of(f).items.append(OPAQUE)
            self.frames.append(Frame(CMD, close=")", procsub=True))
            return pos + 2
        width = 2 if any(self.at(pos, op) for op in (">>", ">|", "<>", "<&", ">&")) else 1
        f.redirect = True
        return pos + width

    def step_quote(self, f: Frame, c: str, pos: int) -> int:
        if f.kind == SQ:
            if c == "'":
                self.frames.pop()
            else:
                self.emit(c, pos)
            return pos + 1
        if f.kind == ANSI:
            if c == "'":
                self.frames.pop()
                return pos + 1
            if c == "\\":
                return self.backslash(f, pos, "*")
            self.emit(c, pos)
            return pos + 1
        # double quotes
        if c == '"':
            self.frames.pop()
            return pos + 1
        if c == "\\":
            return self.backslash(f, pos, '$`"\\')
        if c == "`":
            return self.backtick(pos, True)
        if c == "$":
            return self.dollar(pos)
        self.emit(c, pos)
        return pos + 1

    def step_hdoc(self, f: Frame, c: str, pos: int) -> int:
        if c == "\\":
            return self.backslash(f, pos, "$`\\")
        if c == "`":
            return self.backtick(pos, False)
        if c == "$":
            return self.dollar(pos)
        self.emit(c, pos)
        return pos + 1

    def step_param(self, f: Frame, c: str, pos: int) -> int:
        if f.state == "name":
            return self.param_op(f, pos) if c != "}" else self.pop(pos)
        if f.state == "sub":
            if c == "[":
                f.depth += 1
            elif c == "]":
                if f.depth == 0:
                    return self.param_op(f, pos + 1)
                f.depth -= 1
            return self.arith_common(f, c, pos)
        if c == "}":
            return self.pop(pos)
        if f.state == "offset":
            return self.arith_common(f, c, pos)
        if c == "\\":
            return self.backslash(f, pos, "*")
        if c == '"':
            self.frames.append(Frame(DQ))
            return pos + 1
        if c == "'" and not f.in_dq:
            self.frames.append(Frame(SQ))
            return pos + 1
        if c == "`":
            return self.backtick(pos, f.in_dq)
        if c == "$":
            return self.dollar(pos)
        return pos + 1

    def step_arith(self, f: Frame, c: str, pos: int) -> int:
        if c == "(":
            f.depth += 1
            return pos + 1
        if c == ")" and f.close == "))":
            if f.depth:
                f.depth -= 1
                return pos + 1
            return self.pop(pos + (1 if self.at(pos + 1, ")") else 0))
        if c == "]" and f.close == "]":
            return self.pop(pos)
        return self.arith_common(f, c, pos)

    def arith_common(self, f: Frame, c: str, pos: int) -> int:
        if c == "$":
            return self.dollar(pos)
        if c == "`":
            return self.backtick(pos, False)
        if c in ('"', "'"):
            self.frames.append(Frame(DQ if c == '"' else SQ))
            return pos + 1
        if c == "\\":
            return pos + 2
        return pos + 1

    def pop(self, pos: int) -> int:
        self.frames.pop()
        return pos + 1


_STEPS = {CMD: _Scanner.step_cmd, DQ: _Scanner.step_quote, SQ: _Scanner.step_quote,
          ANSI: _Scanner.step_quote, HDOC: _Scanner.step_hdoc, PARAM: _Scanner.step_param,
          ARITH: _Scanner.step_arith}
