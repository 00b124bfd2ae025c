"""The command level of the shell lexer: what words and simple commands mean
for the holes in them. Keywords, `case` patterns, `[[ … -eq … ]]`,
assignments (`a[SUB]=…`); a command's words classified (`shell_commands.py`)
into nested scripts (`sh -c`, `eval`, a here-document fed to a shell: placed
recursively, each reference then written so this shell passes it on),
programs for other interpreters (W0120), arithmetic (`let`), a pipe into a
shell; here-document bodies (a quoted one reopened when it holds a value).
"""

from __future__ import annotations

from chatflow.compiler.shell_commands import classify
from chatflow.compiler.shell_state import (
    ARITH_OPS,
    DELIM_OK,
    HDOC,
    HEREDOC,
    KEYWORDS,
    MAX_DEPTH,
    NAME_CHAR,
    QHEREDOC,
    REFS,
    Frame,
    Heredoc,
    Item,
    ScannerBase,
    Word,
    encode,
)

_AS_ARGUMENT = "pass the value as an argument instead: `sh -c '… \"$1\"' sh {HOLE}`"
_CLEARED: dict[str, tuple[str, str]] = {
    "sudo": ("`sudo` clears the environment, so the nested shell reads {HOLE} as an empty "
             "string", "keep the environment (`sudo -E`, `sudo --preserve-env=…`), or "
             + _AS_ARGUMENT[0].lower() + _AS_ARGUMENT[1:]),
    "doas": ("`doas` clears the environment, so the nested shell reads {HOLE} as an empty "
             "string", _AS_ARGUMENT),
    "env -i": ("`env -i` clears the environment, so the nested shell reads {HOLE} as an "
               "empty string", _AS_ARGUMENT),
    "exec": ("`exec -c` clears the environment, so the nested shell reads {HOLE} as an "
             "empty string", _AS_ARGUMENT),
    "su -": ("`su -` starts a fresh environment, so the user's shell reads {HOLE} as an "
             "empty string", "drop the `-`, or pass the value as an argument"),
    "ssh": ("the shell `ssh` starts on the other machine does not have ChatFlow's "
            "environment, so it reads {HOLE} as an empty string",
            "send the value as data, e.g. on standard input: "
            "`printf '%s' {HOLE} | ssh HOST 'read -r v; …'`"),
}
for _tool in ("docker", "podman", "nerdctl", "kubectl", "oc"):
    _CLEARED[_tool] = (
        f"the shell inside `{_tool}` does not get ChatFlow's environment, so it reads "
        "{HOLE} as an empty string",
        "pass the variable into the container (`-e cf_NAME`, see `chatflow run --dry-run` "
        "for the name), or pass the value as an argument to the shell")


class CommandLevel(ScannerBase):
    def end_word(self, f: Frame) -> None:
        w = f.word
        if w is None:
            return
        f.word = None
        if f.redirect:
            f.redirect = False
            return
        text = w.text()
        bare = text if not w.quoted else None
        if f.dbl:
            if bare == "]]":
                f.dbl = False
                return
            prev = f.dbl_prev
            if prev is not None and prev.text() in ARITH_OPS:
                for h in w.all_holes():
                    self.place(h).integer = True
            if text in ARITH_OPS and prev is not None:
                for h in prev.all_holes():
                    self.place(h).integer = True
            f.dbl_prev = w
            return
        if f.case:
            state = f.case[-1]
            if state == "subject":
                f.case[-1] = "in"
                return
            if state == "in":
                f.case[-1] = "pattern"
                return
            if state == "pattern":
                if bare == "esac":
                    f.case.pop()
                return
        if not f.words and not f.skip and bare is not None:
            if bare in KEYWORDS:
                return
            if bare == "esac" and f.case:
                f.case.pop()
                return
            if bare == "case":
                f.case.append("subject")
                return
            if bare in ("for", "select"):
                f.skip = True
                f.after_for = bare == "for"
                return
            if bare == "function":
                f.skip_words = 1   # its name
                return
            if bare == "[[":
                f.dbl = True
                f.dbl_prev = None
                return
        if f.skip:
            return
        if f.skip_words:
            f.skip_words -= 1
            return
        if not f.words and self.assignment(w):
            return
        f.words.append(w)

    def assignment(self, w: Word) -> bool:
        """`NAME=…` or `NAME[SUB]=…` (bash evaluates SUB as arithmetic)."""
        items = w.items
        k = 0
        while k < len(items) and isinstance(items[k], str) and items[k] in NAME_CHAR:
            k += 1
        if k == 0 or not isinstance(items[0], str) or items[0].isdigit():
            return False
        if k < len(items) and items[k] == "[":
            close = next((j for j in range(k, len(items)) if items[j] == "]"), None)
            if close is None:
                return False
            for x in items[k:close]:
                if isinstance(x, int) and x >= 0:
                    self.place(x).integer = True
            for h, idx in w.inner:
                if k <= idx <= close:
                    self.place(h).integer = True
            k = close + 1
        if k < len(items) and items[k] == "+":
            k += 1
        return k < len(items) and items[k] == "="

    def end_command(self, f: Frame, sep: str) -> None:
        words, f.words = f.words, []
        info = classify(["sh" if w.shell_var and len(w.items) == 1 else w.text()
                         for w in words]) if words else None
        if info is not None:
            for k, shell in info.scripts:
                self.nested([words[k]], info.env_cleared, f"the script of `{shell} -c`")
            if info.eval_from is not None and info.eval_from < len(words):
                self.nested(words[info.eval_from:], info.env_cleared,
                            f"the text that `{info.eval_what}` runs")
            for k, interp in info.foreign:
                for h in words[k].all_holes():
                    self.foreign(h, interp)
            if info.script_file is not None:
                k, reader = info.script_file
                for h in words[k].procsub:
                    self.foreign(h, reader, how="file")
            for k in info.integers:
                for h in words[k].all_holes():
                    self.place(h).integer = True
            if info.stdin is not None:
                for doc in f.heredocs:
                    doc.feeds, doc.cleared = info.stdin, info.env_cleared
                if f.piped:
                    for h in f.pipe_holes:
                        self.foreign(h, info.stdin, how="pipe")
                    for doc in f.pipe_docs:
                        doc.feeds = doc.feeds or "|" + info.stdin
        self.pending.extend(f.heredocs)
        if sep == "|":
            f.pipe_holes.extend(f.cmd_holes)
            f.pipe_docs.extend(f.heredocs)
            f.piped = True
        else:
            f.pipe_holes, f.pipe_docs, f.piped = [], [], False
        f.heredocs = []
        f.cmd_holes = []
        f.skip = f.redirect = False
        f.skip_words = 0

    def foreign(self, h: int, interp: str, how: str = "program") -> None:
        if how == "pipe":
            msg = f"{{HOLE}} is written into a pipe that `{interp}` reads as a program"
        elif how == "file":
            msg = f"{{HOLE}} is written into a file that `{interp}` reads as a program"
        else:
            msg = f"{{HOLE}} is part of a program for `{interp}`, which parses it as code"
        self.problem(h, "W0120", msg,
                     "pass the value as data: as an argument, on standard input, or in a "
                     "step `env` variable that the program reads")

    def nested(self, words: list[Word], cleared: str | None, what: str) -> None:
        """The words are (together) a script another shell parses: place its
        holes for that shell, then write each reference so the shell here
        passes it on unchanged."""
        holes = [hc for w in words for hc in w.holes]
        inner = [h for w in words for h, _ in w.inner]
        for h in inner:
            self.problem(h, "E0412", f"{{HOLE}} is inside a substitution whose output becomes "
                         f"part of {what}: that shell would run the value as code",
                         "pass it to the nested shell as an argument (`sh -c '… \"$1\"' sh "
                         "{HOLE}`) or write it in the script itself, outside `$( )`")
        if not holes:
            return
        if self.depth >= MAX_DEPTH:
            for h, _ in holes:
                self.problem(h, "E0412", "{HOLE} is inside shells nested too deeply to place "
                             "it safely", "pass it to the nested shell as an argument")
            return
        items: list[Item] = []
        for k, w in enumerate(words):
            if k:
                items.append(" ")
            items.extend(w.items)
        self.child(items).run()
        for h, ctx in holes:
            p = self.place(h)
            p.ref = encode(p.ref, ctx)
            if cleared is not None:
                self.problem(h, "W0121", *_CLEARED.get(cleared, _CLEARED["sudo"]))

    def body(self, doc: Heredoc, start: int, end: int) -> None:
        if not doc.quoted:
            self.scan(start, end, Frame(HDOC, doc=doc))
            return
        holes = [(x, k) for k in range(start, end)
                 if isinstance(x := self.items[k], int) and x >= 0]
        if not holes:
            return
        if doc.feeds == "sh":
            self.nested([Word(list(self.items[start:end]), [(h, QHEREDOC) for h, _ in holes])],
                        doc.cleared, "the script a shell reads from this here-document")
            return
        if doc.feeds is not None:
            for h, _ in holes:
                self.foreign(h, doc.feeds.lstrip("|"),
                             how="pipe" if doc.feeds.startswith("|") else "program")
        if self.direct and DELIM_OK.match(doc.delim) and not doc.holes_in_delim:
            # reopen: an unquoted delimiter, and the body's own `\ $ `` escaped
            a, b = doc.span
            for k in range(a, b):
                self.out.edits[k] = doc.delim if k == a else ""
            for k in range(start, end):
                x = self.items[k]
                if isinstance(x, str) and x in "\\$`":
                    self.out.edits[k] = "\\" + x
            for h, _ in holes:
                self.place(h).ref = REFS[HEREDOC]
            return
        for h, _ in holes:
            if self.direct:
                self.problem(h, "E0411", "{HOLE} is inside a quoted here-document whose "
                             f"delimiter `{doc.delim}` cannot be written unquoted, so "
                             "ChatFlow cannot reopen it for the value",
                             "use a plain word as the delimiter (`<<'EOF'`)")
            else:
                self.problem(h, "E0411", "{HOLE} is inside a quoted here-document "
                             f"(`{doc.delim}`) of a nested script, where no shell expands it",
                             "use an unquoted delimiter there (`<<EOF`) and escape the "
                             "document's own `$`, `` ` `` and `\\` with `\\`")

    def body_done(self, f: Frame) -> None:
        doc = f.doc
        w = f.word
        if doc is None or w is None or doc.feeds is None:
            return
        if doc.feeds == "sh":
            self.nested([w], doc.cleared, "the script a shell reads from this here-document")
            return
        for h in w.all_holes():
            self.foreign(h, doc.feeds.lstrip("|"),
                             how="pipe" if doc.feeds.startswith("|") else "program")
