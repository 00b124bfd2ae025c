"""What a simple shell command does with its words, as far as placing values
goes: which word is a script for a nested shell (`sh -c SCRIPT`, `eval`,
after wrappers such as `env`, `sudo`, `timeout`, `xargs`, `find -exec`),
whether the command reads a script from standard input (`bash <<EOF`, `| sh`),
which words are programs for another interpreter (`python -c`, `awk`, `sed`,
`ssh host CMD`...), which words bash evaluates as arithmetic (`let`,
`declare -i`), and whether a wrapper clears the environment.

Input: the command's words as fixed text, `None` for a word that is not
(it holds a value or an expansion). Assignments and redirections are not
words here. The lexer (`shell_lexer.py`) acts on the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ksh93", "mksh", "ash", "yash",
                    "posh", "rbash", "busybox-sh"})
"""Commands whose `-c` word, or standard input, is a POSIX-like shell script."""


@dataclass(frozen=True)
class _Options:
    """How a wrapper's options are read: short options taking an argument,
    long options taking one (`--x y` or `--x=y`), operands before the wrapped
    command, options that clear the environment, options that keep it."""

    with_arg: str = ""
    long_with_arg: frozenset[str] = frozenset()
    operands: int = 0
    clears: frozenset[str] = frozenset()
    keeps: frozenset[str] = frozenset()
    clears_by_default: bool = False
    assignments: bool = False     # `NAME=VALUE` words may follow the options (env)
    stop: frozenset[str] = frozenset()  # options after which nothing is executed


WRAPPERS: dict[str, _Options] = {
    "env": _Options("uCS", frozenset({"--unset", "--chdir", "--split-string"}),
                    clears=frozenset({"-i", "-", "--ignore-environment"}), assignments=True),
    "sudo": _Options("ugCDhprtUTR", frozenset({
        "--user", "--group", "--close-from", "--chdir", "--host", "--prompt", "--role",
        "--type", "--other-user", "--command-timeout", "--chroot"}),
        keeps=frozenset({"-E", "--preserve-env"}), clears_by_default=True),
    "doas": _Options("uC", clears_by_default=True),
    "timeout": _Options("sk", frozenset({"--signal", "--kill-after"}), operands=1),
    "nice": _Options("n", frozenset({"--adjustment"})),
    "nohup": _Options(),
    "setsid": _Options(),
    "command": _Options(stop=frozenset({"-v", "-V"})),
    "builtin": _Options(),
    "exec": _Options("a", clears=frozenset({"-c"})),
    "time": _Options("fo", frozenset({"--format", "--output"})),
    "stdbuf": _Options("ioe", frozenset({"--input", "--output", "--error"})),
    "chroot": _Options("", frozenset({"--userspec", "--groups"}), operands=1),
    "ionice": _Options("cnp", frozenset({"--class", "--classdata", "--pid"})),
    "taskset": _Options("", operands=1),
    "chrt": _Options("", operands=1),
    "unbuffer": _Options(),
    "busybox": _Options(),
    "xargs": _Options("IaLnPdEs", frozenset({
        "--arg-file", "--delimiter", "--eof", "--replace", "--max-lines", "--max-args",
        "--max-procs", "--max-chars", "--process-slot-var"})),
    "flock": _Options("wEc", frozenset({"--timeout", "--conflict-exit-code", "--command"}),
                      operands=1),
}

# interpreter -> (options whose argument is a program, does it read a program from
# stdin when given no operand, does its first operand count as the program)
_FOREIGN: dict[str, tuple[frozenset[str], bool, bool]] = {
    "python": (frozenset({"-c"}), True, False),
    "pypy": (frozenset({"-c"}), True, False),
    "node": (frozenset({"-e", "--eval", "-p", "--print"}), True, False),
    "nodejs": (frozenset({"-e", "--eval", "-p", "--print"}), True, False),
    "bun": (frozenset({"-e", "--eval", "-p", "--print"}), False, False),
    "perl": (frozenset({"-e", "-E"}), True, False),
    "ruby": (frozenset({"-e"}), True, False),
    "php": (frozenset({"-r"}), True, False),
    "lua": (frozenset({"-e"}), True, False),
    "luajit": (frozenset({"-e"}), True, False),
    "Rscript": (frozenset({"-e"}), False, False),
    "julia": (frozenset({"-e", "--eval"}), True, False),
    "osascript": (frozenset({"-e"}), True, False),
    "pwsh": (frozenset({"-c", "-Command", "-command"}), False, False),
    "powershell": (frozenset({"-c", "-Command", "-command"}), False, False),
    "awk": (frozenset(), False, True),
    "gawk": (frozenset(), False, True),
    "mawk": (frozenset(), False, True),
    "nawk": (frozenset(), False, True),
    "sed": (frozenset({"-e", "--expression"}), False, True),
    "gsed": (frozenset({"-e", "--expression"}), False, True),
    "jq": (frozenset(), False, True),
    "yq": (frozenset(), False, True),
}
# options of those interpreters that take an argument that is not a program
_FOREIGN_ARGS: dict[str, frozenset[str]] = {
    "awk": frozenset({"-F", "-v", "-f", "--file", "--assign", "--field-separator"}),
    "sed": frozenset({"-f", "--file", "-l", "--line-length"}),
    "jq": frozenset({"-f", "--from-file", "-L", "--indent"}),
    "python": frozenset({"-m", "-W", "-X", "-Q"}),
}
_FOREIGN_PAIR_ARGS = frozenset({"--arg", "--argjson", "--slurpfile", "--rawfile"})  # jq
_PROGRAM_FILE = frozenset({"-f", "--file", "--from-file", "-m"})
_REMOTE = frozenset({"ssh", "docker", "podman", "nerdctl", "kubectl", "oc"})
_SSH_ARGS = "BbcDEeFIiJLlmOopQRSWw"
_ARITH_DECLARE = frozenset({"declare", "typeset", "local", "export", "readonly"})


@dataclass
class CommandInfo:
    scripts: list[tuple[int, str]] = field(default_factory=list)  # (word, shell) nested scripts
    eval_from: int | None = None   # `eval`: these words, joined by spaces, are a script
    stdin: str | None = None       # "sh" or an interpreter: reads its program from stdin
    foreign: list[tuple[int, str]] = field(default_factory=list)  # (word, interpreter)
    integers: list[int] = field(default_factory=list)     # words evaluated as arithmetic
    env_cleared: str | None = None  # the wrapper that clears the environment
    eval_what: str = "eval"        # who runs the `eval_from` words as one script
    script_file: tuple[int, str] | None = None   # (word, reader): a file read as a program


_SCRIPT_OPTIONS: dict[str, frozenset[str]] = {
    # commands whose option takes a command string that a shell runs, in the
    # environment it inherits
    "script": frozenset({"-c", "--command"}),
    "nix-shell": frozenset({"--run", "--command"}),
}


def classify(words: Sequence[str | None]) -> CommandInfo:
    info = CommandInfo()
    _classify(words, 0, info, None)
    if info == CommandInfo():
        # an unknown wrapper (`poetry run sh -c '…'`, `{runner} bash -c '…'`):
        # a shell with `-c` among the words still gets its script
        for k in range(1, len(words) - 1):
            w, flag = words[k], words[k + 1]
            if w is not None and _base(w) in SHELLS and flag is not None \
                    and flag.startswith("-") and not flag.startswith("--") and "c" in flag:
                _shell(words, k, info, None)
                break
    return info


def _base(word: str) -> str:
    base = word.rsplit("/", 1)[-1]
    # python3, python3.12, pypy3, perl5.36: versioned interpreter names
    stem = base.rstrip("0123456789.")
    return stem if stem in _FOREIGN and stem != base else base


def _classify(words: Sequence[str | None], i: int, info: CommandInfo,
              cleared: str | None) -> None:
    n = len(words)
    while i < n:
        name = words[i]
        if name is None:
            return  # the command itself is not fixed text: nothing is known of it
        base = _base(name)
        split = _split_string(words, i) if base == "env" else None
        if split is not None:
            info.foreign.append((split, "env -S"))
            return
        spec = WRAPPERS.get(base)
        if spec is not None:
            j, clears, stopped = _skip_options(words, i + 1, spec)
            if stopped:
                return
            script = _flock_command(words, i + 1) if base == "flock" else None
            if script is not None:
                info.scripts.append((script, "sh"))
                info.env_cleared = info.env_cleared or cleared
                return
            if clears:
                cleared = base if base != "env" else "env -i"
            i = j
            continue
        if base in SHELLS:
            _shell(words, i, info, cleared)
            return
        if base == "eval":
            info.eval_from, info.eval_what = i + 1, "eval"
            return
        if base in ("source", ".") and i + 1 < n:
            info.script_file = (i + 1, base)
            return
        if base == "watch":
            j, _, _ = _skip_options(words, i + 1, _WATCH)
            if any(w in ("-x", "--exec") for w in words[i + 1:j]):
                i = j
                continue
            info.eval_from, info.eval_what = j, "watch"
            return
        if base in _SCRIPT_OPTIONS or base == "git":
            opts = _SCRIPT_OPTIONS.get(base, frozenset({"-x", "--exec"}))
            if base == "git" and "rebase" not in words[i + 1:]:
                return
            for k in range(i + 1, n - 1):
                if words[k] in opts:
                    info.scripts.append((k + 1, base if base != "git" else "git rebase"))
            return
        if base == "let":
            info.integers.extend(range(i + 1, n))
            return
        if base in _ARITH_DECLARE:
            if any(w is not None and w.startswith("-") and "i" in w for w in words[i + 1:]):
                info.integers.extend(k for k in range(i + 1, n)
                                     if not (words[k] or "").startswith("-"))
            return
        if base == "find":
            _find(words, i + 1, info, cleared)
            return
        if base in _FOREIGN:
            _foreign(words, i, base, name.rsplit("/", 1)[-1], info)
            return
        if base in _REMOTE:
            _remote(words, i, base, info)
        elif base in ("su", "runuser"):
            _su(words, i, info)
        return


_WATCH = _Options("nq", frozenset({"--interval", "--equexit"}))


def _split_string(words: Sequence[str | None], i: int) -> int | None:
    """`env -S STRING`: the index of STRING, which `env` splits into a
    command line of its own (not a shell's, so no reference works there)."""
    end = _skip_options(words, i + 1, WRAPPERS["env"])[0]
    for k in range(i + 1, min(end, len(words))):
        w = words[k] or ""
        if w in ("-S", "--split-string"):
            return k + 1 if k + 1 < len(words) else None
        if w.startswith(("-S", "--split-string=")):
            return k
    return None


def _skip_options(words: Sequence[str | None], i: int,
                  spec: _Options) -> tuple[int, bool, bool]:
    """Index of the wrapped command, whether the environment is cleared, and
    whether the wrapper runs nothing (`command -v`)."""
    n = len(words)
    clears = spec.clears_by_default
    operands = spec.operands
    while i < n:
        w = words[i]
        if w is None:
            break
        if w in spec.stop:
            return n, clears, True
        if w in spec.clears:
            clears = True
        if w in spec.keeps or any(w.startswith(k + "=") for k in spec.keeps):
            clears = False
        if w == "--":
            i += 1
            break
        if w.startswith("--"):
            key = w.split("=", 1)[0]
            i += 2 if key in spec.long_with_arg and "=" not in w else 1
            continue
        if w.startswith("-") and len(w) > 1:
            letters = w[1:]
            i += 1
            for k, letter in enumerate(letters):
                if "-" + letter in spec.clears:
                    clears = True
                if "-" + letter in spec.keeps:
                    clears = False
                if letter in spec.with_arg:
                    if k == len(letters) - 1:
                        i += 1   # the argument is the next word
                    break
            continue
        if spec.assignments and "=" in w and not w.startswith("="):
            i += 1
            continue
        if operands:
            operands -= 1
            i += 1
            continue
        break
    return i, clears, False


def _flock_command(words: Sequence[str | None], i: int) -> int | None:
    """`flock [opts] FILE -c COMMAND` runs COMMAND with `sh -c`."""
    for k in range(i, len(words) - 1):
        if words[k] in ("-c", "--command"):
            return k + 1
    return None


def _shell(words: Sequence[str | None], i: int, info: CommandInfo, cleared: str | None) -> None:
    n = len(words)
    j = i + 1
    script = False
    from_stdin = False
    while j < n:
        w = words[j]
        if w is None:
            break
        if w in ("--", "-"):
            j += 1
            break
        if w.startswith("--") and len(w) > 2:
            j += 2 if w in ("--rcfile", "--init-file") else 1
            continue
        if w[:1] in "-+" and len(w) > 1:
            letters = w[1:]
            if w[0] == "-" and "c" in letters:
                script = True
            if w[0] == "-" and "s" in letters:
                from_stdin = True
            j += 2 if letters[-1] in "oO" else 1
            continue
        break
    if cleared is not None:
        info.env_cleared = cleared
    if script:
        if j < n:
            info.scripts.append((j, str(words[i]).rsplit("/", 1)[-1]))
    elif from_stdin or j >= n:
        info.stdin = "sh"
    else:
        info.script_file = (j, str(words[i]).rsplit("/", 1)[-1])


def _find(words: Sequence[str | None], i: int, info: CommandInfo, cleared: str | None) -> None:
    n = len(words)
    while i < n:
        if words[i] in ("-exec", "-execdir", "-ok", "-okdir"):
            end = i + 1
            while end < n and words[end] not in (";", "+"):
                end += 1
            sub = CommandInfo()
            _classify(words[i + 1:end], 0, sub, cleared)
            _merge(info, sub, i + 1)
            i = end
        i += 1


def _merge(info: CommandInfo, sub: CommandInfo, offset: int) -> None:
    info.scripts.extend((k + offset, sh) for k, sh in sub.scripts)
    info.foreign.extend((k + offset, what) for k, what in sub.foreign)
    info.integers.extend(k + offset for k in sub.integers)
    info.env_cleared = info.env_cleared or sub.env_cleared
    if sub.eval_from is not None and info.eval_from is None:
        info.eval_from = sub.eval_from + offset


def _foreign(words: Sequence[str | None], i: int, base: str, shown: str,
             info: CommandInfo) -> None:
    code_opts, reads_stdin, first_operand = _FOREIGN[base]
    family = "awk" if base.endswith("awk") else "sed" if base.endswith("sed") else base
    family = "jq" if base == "yq" else "python" if base == "pypy" else family
    arg_opts = _FOREIGN_ARGS.get(family, frozenset())
    n = len(words)
    j = i + 1
    program_given = False
    while j < n:
        w = words[j]
        if w is None:
            break
        if w == "--":
            j += 1
            break
        if w in _FOREIGN_PAIR_ARGS and family == "jq":
            j += 3
            continue
        key = w.split("=", 1)[0] if w.startswith("--") else w
        if key in code_opts:
            program_given = True
            if "=" in w and w.startswith("--"):
                info.foreign.append((j, shown))
                j += 1
            else:
                if j + 1 < n:
                    info.foreign.append((j + 1, shown))
                j += 2
            continue
        attached = next((o for o in code_opts if len(o) == 2 and w.startswith(o)
                         and len(w) > 2 and not w.startswith("--")), None)
        if attached is not None:
            program_given = True
            info.foreign.append((j, shown))
            j += 1
            continue
        if key in arg_opts:
            program_given = program_given or key in _PROGRAM_FILE
            j += 1 if "=" in w else 2
            continue
        if w.startswith("-") and len(w) > 1:
            j += 1
            continue
        break
    if program_given:
        return
    if first_operand:
        if j < n:
            info.foreign.append((j, shown))
        return
    if reads_stdin and (j >= n or words[j] == "-"):
        info.stdin = shown
    elif j < n:
        info.script_file = (j, shown)


def _remote(words: Sequence[str | None], i: int, base: str, info: CommandInfo) -> None:
    """`ssh HOST CMD...`: the words of CMD, joined, are a script for a shell
    on another machine; `docker exec C sh -c SCRIPT` and the like: SCRIPT
    runs in a container. Placed as nested scripts, the references reach those
    shells unexpanded (never the values' text), but neither shell has
    ChatFlow's environment unless it is passed on (`docker -e cf_NAME`)."""
    n = len(words)
    if base == "ssh":
        j = i + 1
        while j < n:
            w = words[j]
            if w is None or not w.startswith("-") or w == "--":
                j += 1 if w == "--" else 0
                break
            j += 2 if w[-1] in _SSH_ARGS and len(w) == 2 else 1
        if j + 1 < n:
            info.eval_from, info.eval_what, info.env_cleared = j + 1, "ssh", "ssh"
        return
    passed = any(w is not None and (w.startswith(("cf_", "--env=cf_", "-ecf_")))
                 for w in words[i + 1:])
    for k in range(i + 1, n - 1):
        w = words[k]
        if w is not None and _base(w) in SHELLS:
            _shell(words, k, info, None if passed else base)
            return


def _su(words: Sequence[str | None], i: int, info: CommandInfo) -> None:
    """`su [-] [-c CMD] [USER]`, `runuser`: CMD runs in the user's shell,
    which keeps the environment unless it is a login shell (`-`, `-l`)."""
    login = any(w in ("-", "-l", "--login") for w in words[i + 1:])
    for k in range(i + 1, len(words)):
        w = words[k]
        if w in ("-c", "--command") and k + 1 < len(words):
            info.scripts.append((k + 1, str(words[i]).rsplit("/", 1)[-1]))
        elif w is not None and w.startswith("--command="):
            info.foreign.append((k, "su"))
    if login and info.scripts:
        info.env_cleared = "su -"
