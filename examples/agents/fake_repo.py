"""A fake repository for the refactoring example: applies plans, runs "tests"
and applies fixes, keeping its state in ./work/.

    python3 agents/fake_repo.py apply MODULE PLAN   # write the plan; plant the scripted bugs
    python3 agents/fake_repo.py test MODULE         # exit 1 while the module has bugs
    python3 agents/fake_repo.py fix MODULE          # remove one bug
    python3 agents/fake_repo.py report MODULE...    # one line per module

How many test-fix rounds each module needs is scripted in BUGS (module `b`
needs one fix, `c` two); FAKE_REPO_BUGS="a=5,b=0" overrides it, so a module
that needs more fixes than the loop's `max` shows the loop running out.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

WORK = Path("work")
BUGS = {"a": 0, "b": 1, "c": 2, "d": 0}


def scripted_bugs(module: str) -> int:
    table = dict(BUGS)
    for item in os.environ.get("FAKE_REPO_BUGS", "").split(","):
        name, sep, count = item.partition("=")
        if sep:
            table[name.strip()] = int(count)
    return table.get(module, 0)


def bugs_file(module: str) -> Path:
    return WORK / f"{module}.bugs"


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    command, modules = argv[1], argv[2:]
    WORK.mkdir(exist_ok=True)
    module = modules[0]
    if command == "apply":
        plan = " ".join(modules[1:])
        (WORK / f"{module}.plan").write_text(plan + "\n", encoding="utf-8")
        bugs_file(module).write_text(str(scripted_bugs(module)), encoding="utf-8")
        print(f"applied the plan to module {module}")
        return 0
    if command == "test":
        bugs = int(bugs_file(module).read_text(encoding="utf-8"))
        if bugs:
            print(f"FAILED: {bugs} test(s) of module {module} fail")
            return 1
        print(f"ok: the tests of module {module} pass")
        return 0
    if command == "fix":
        bugs = int(bugs_file(module).read_text(encoding="utf-8"))
        bugs_file(module).write_text(str(max(0, bugs - 1)), encoding="utf-8")
        print(f"patched module {module}")
        return 0
    if command == "report":
        for m in modules:
            left = bugs_file(m).read_text(encoding="utf-8") if bugs_file(m).exists() else "?"
            print(f"module {m}: {'done' if left == '0' else f'{left} bug(s) left'}")
        return 0
    print(f"unknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
