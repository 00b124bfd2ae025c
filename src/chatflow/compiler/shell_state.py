"""The vocabulary and state of the shell lexer (`shell_lexer.py`): template
items, the contexts a hole can stand in and the reference written for each,
placements and problems, `encode` (text written so that a shell passes it on
unchanged), and the scanner's records (words, here-documents, frames) with
the helpers every level of the scanner uses (`ScannerBase`).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

Item = str | int
OPAQUE = -1
NAME = "NAME"
"""Placeholder for the binding's name in a reference (no encoding touches it)."""

MAX_DEPTH = 8
SHELL_VARS = frozenset({"SHELL", "BASH"})
"""Parameters that name a shell: `$SHELL -c '…'` runs a nested shell."""

# where a hole stands, for the shell that reads that text
PLAIN, DQ, SQ, ANSI, HEREDOC, QHEREDOC = "plain", "dquote", "squote", "ansi", "heredoc", "qheredoc"
BACKTICK = "backtick"   # the text between backticks (a layer, not a hole's context)
REFS = {PLAIN: '"${NAME}"', DQ: "${NAME}", SQ: "'\"${NAME}\"'", ANSI: "'\"${NAME}\"$'",
         HEREDOC: "${NAME}", QHEREDOC: "${NAME}"}

# frame kinds
CMD, HDOC, PARAM, ARITH = "cmd", "hdoc", "param", "arith"

BREAK = frozenset(" \t\n;&|()<>")
KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until",
                       "!", "{", "}"})
ARITH_OPS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})
DELIM_OK = re.compile(r"[A-Za-z0-9_.,:+%@^/=-]+\Z")
NAME_CHAR = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
SPECIAL_PARAMS = frozenset("@*#?$!-0123456789")


@dataclass(frozen=True)
class Problem:
    """`message` and `hint` say `{HOLE}` where the hole's source goes."""

    code: str
    message: str
    hint: str | None = None


@dataclass
class Placement:
    ref: str = REFS[PLAIN]
    integer: bool = False
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Analysis:
    places: dict[int, Placement] = field(default_factory=dict)
    edits: dict[int, str] = field(default_factory=dict)   # item index -> its text in the command


def encode(text: str, ctx: str) -> str:
    """`text`, written where `ctx` says, so that the shell reading it there
    passes exactly `text` on."""
    if ctx == SQ:
        return text.replace("'", "'\\''")
    if ctx == ANSI:
        return text.replace("\\", "\\\\").replace("'", "\\'")
    if ctx == DQ:
        return re.sub(r'([\\"$`])', r"\\\1", text)
    if ctx == HEREDOC:
        return re.sub(r"([\\$`])", r"\\\1", text)
    if ctx == QHEREDOC:
        return text
    if ctx == BACKTICK:
        return re.sub(r"([\\`])", r"\\\1", text)
    return "'" + text.replace("'", "'\\''") + "'"


@dataclass
class Word:
    items: list[Item] = field(default_factory=list)    # its text after quote removal
    holes: list[tuple[int, str]] = field(default_factory=list)  # (hole, context) in the word
    inner: list[tuple[int, int]] = field(default_factory=list)  # (hole, index) in substitutions
    procsub: list[int] = field(default_factory=list)    # holes in its `<( )` / `>( )`
    quoted: bool = False
    shell_var: bool = False   # it starts with `$SHELL` / `$BASH`: a shell, as a command

    def text(self) -> str | None:
        if any(not isinstance(i, str) for i in self.items):
            return None
        return "".join(self.items)  # type: ignore[arg-type]

    def all_holes(self) -> list[int]:
        return [h for h, _ in self.holes] + [h for h, _ in self.inner]


@dataclass
class Heredoc:
    delim: str
    quoted: bool
    strip: bool
    span: tuple[int, int]          # item range of the delimiter word
    feeds: str | None = None       # "sh" or an interpreter reading it as its program
    cleared: str | None = None
    holes_in_delim: bool = False


@dataclass
class Frame:
    kind: str
    close: str | None = None       # CMD: ")" ; ARITH: "))" or "]"
    flows: bool = False            # CMD: its output becomes text of the enclosing word
    procsub: bool = False          # CMD: `<( )` / `>( )`, its output a file the word names
    # command frames
    words: list[Word] = field(default_factory=list)
    word: Word | None = None
    redirect: bool = False
    heredocs: list[Heredoc] = field(default_factory=list)
    case: list[str] = field(default_factory=list)
    dbl: bool = False
    dbl_prev: Word | None = None
    skip: bool = False
    skip_words: int = 0
    after_for: bool = False
    cmd_holes: list[int] = field(default_factory=list)
    pipe_holes: list[int] = field(default_factory=list)
    pipe_docs: list[Heredoc] = field(default_factory=list)
    piped: bool = False
    doc: Heredoc | None = None    # HDOC: the here-document
    # parameter expansions and arithmetic
    in_dq: bool = False
    state: str = "word"
    depth: int = 0


class ScannerBase(ABC):
    """State shared by the levels of the scanner: the items, the results,
    the stack of frames, the here-documents waiting for their bodies."""

    def __init__(self, items: Sequence[Item], out: Analysis, direct: bool, depth: int) -> None:
        self.items = items
        self.out = out
        self.direct = direct       # items are the template itself (edits allowed)
        self.depth = depth
        self.frames: list[Frame] = []
        self.pending: list[Heredoc] = []
        self.end = len(items)

    def place(self, h: int) -> Placement:
        p = self.out.places.get(h)
        if p is None:
            p = self.out.places[h] = Placement()
        return p

    def problem(self, h: int, code: str, message: str, hint: str | None = None) -> None:
        prob = Problem(code, message, hint)
        if prob not in self.place(h).problems:
            self.place(h).problems.append(prob)

    @abstractmethod
    def scan(self, start: int, end: int, frame: Frame) -> None:
        """Scan items[start:end] inside `frame` (closed at the end)."""

    @abstractmethod
    def child(self, items: Sequence[Item]) -> ScannerBase:
        """A scanner for a nested script (decoded text), sharing the results."""

    @abstractmethod
    def run(self) -> None:
        """Scan all items."""

    # ------------------------------------------------------------------ words

    def owner(self) -> Frame | None:
        """The frame whose current word receives text read now (None when
        the text is inside a substitution)."""
        for f in reversed(self.frames):
            if f.kind in (DQ, SQ, ANSI):
                continue
            return f if f.kind in (CMD, HDOC) else None
        return None

    def word_of(self, f: Frame) -> Word:
        if f.word is None:
            f.word = Word()
        return f.word

    def emit(self, item: Item, pos: int) -> None:
        f = self.owner()
        if f is not None:
            self.word_of(f).items.append(item)

    def opaque(self, name: str = "") -> None:
        """A substitution starts: its output is unknown text of the word
        (`name`: the parameter it expands, if any)."""
        f = self.owner()
        if f is not None:
            w = self.word_of(f)
            if not w.items and name in SHELL_VARS:
                w.shell_var = True
            w.items.append(OPAQUE)
