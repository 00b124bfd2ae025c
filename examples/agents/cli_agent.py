"""Run a coding-agent CLI as a ChatFlow agent (the `command` adapter's protocol).

ChatFlow's built-in `command` adapter starts this script with the request as
JSON on stdin — {"prompt", "with", "instance_id", "step"} — and reads the
reply, {"text": "...", "tokens": N}, from its stdout (docs/agents.md).
This script hands the prompt to the tool as data — on the tool's stdin, or
in a temporary file for aider — and never puts it in a command line or a
shell string, so nothing in a prompt can run as a command. The tool's own
arguments are a list (no shell); its stderr is passed through, and a
failure of the tool is a non-zero exit with its last error line.

    python3 cli_agent.py claude [-- EXTRA_ARGS...]   # claude -p --output-format json
    python3 cli_agent.py codex  [-- EXTRA_ARGS...]   # codex exec --json -
    python3 cli_agent.py aider  [-- EXTRA_ARGS...]   # aider --message-file F --yes-always ...
    python3 cli_agent.py stdin  -- TOOL [ARGS...]    # any tool: prompt on stdin, answer on stdout

EXTRA_ARGS are appended to the tool's arguments (a model, a permission
mode, files to edit...): they come from .chatflow/config.yaml, never from a
flow's values. Tokens are what the tool reports: claude's `usage` (input,
output and cache tokens), codex's `turn.completed` usage (input and
output), aider's "Tokens: ... sent, ... received" lines; the `stdin` mode
knows no usage and reports 0. Set CHATFLOW_AGENT_BIN to run another
executable than the tool's usual name (a wrapper, a pinned version).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

EXIT_TOOL_FAILED = 1
EXIT_USAGE = 2


class AgentFailed(Exception):
    """The tool ran but did not answer; the message is shown to the user."""


def run_tool(argv: list[str], stdin_text: str | None) -> str:
    """Run `argv` (no shell) with `stdin_text` on its stdin; its stdout, or
    AgentFailed with its exit code and last stderr line."""
    try:
        proc = subprocess.run(argv, input=stdin_text, capture_output=True, text=True,
                              check=False, stdin=None if stdin_text is not None
                              else subprocess.DEVNULL)
    except FileNotFoundError:
        raise AgentFailed(f"`{argv[0]}` is not installed (not found on PATH)") from None
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        last = f": {lines[-1]}" if lines else ""
        raise AgentFailed(f"`{argv[0]}` exited with code {proc.returncode}{last}")
    return proc.stdout


def _bin(default: str) -> str:
    return os.environ.get("CHATFLOW_AGENT_BIN") or default


# ---------------------------------------------------------------------------- claude


def claude(prompt: str, extra: list[str]) -> tuple[str, int]:
    """Claude Code in print mode: the prompt on stdin, one JSON result object out."""
    out = run_tool([_bin("claude"), "-p", "--output-format", "json", *extra], prompt)
    try:
        result = json.loads(out)
    except ValueError:
        raise AgentFailed(f"claude printed no JSON result: {out.strip()[:120]!r}") from None
    if not isinstance(result, dict):
        raise AgentFailed("claude printed JSON that is not a result object")
    if result.get("is_error") or result.get("subtype") not in (None, "success"):
        raise AgentFailed(f"claude reported an error ({result.get('subtype')}): "
                          f"{str(result.get('result', ''))[:200]}")
    usage = result.get("usage") or {}
    tokens = sum(int(usage.get(k) or 0) for k in (
        "input_tokens", "output_tokens", "cache_creation_input_tokens",
        "cache_read_input_tokens"))
    return str(result.get("result") or ""), tokens


# ---------------------------------------------------------------------------- codex


def codex(prompt: str, extra: list[str]) -> tuple[str, int]:
    """Codex CLI non-interactively: `-` reads the prompt from stdin; `--json`
    prints one event per line. The answer is the last agent message; tokens
    are the input and output tokens of every completed turn."""
    out = run_tool([_bin("codex"), "exec", "--json", *extra, "-"], prompt)
    text, tokens = "", 0
    for line in out.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # not an event (a banner, a warning)
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        item = event.get("item") or {}
        if kind == "item.completed" and item.get("type") == "agent_message":
            text = str(item.get("text") or "")
        elif kind == "turn.completed":
            usage = event.get("usage") or {}
            tokens += int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)
        elif kind in ("turn.failed", "error"):
            error = event.get("error") if kind == "turn.failed" else event
            message = error.get("message") if isinstance(error, dict) else error
            raise AgentFailed(f"codex failed: {message}")
    return text, tokens


# ---------------------------------------------------------------------------- aider

_AIDER_TOKENS = re.compile(r"Tokens:\s*(.*)")
_AMOUNT = re.compile(r"([\d][\d,]*(?:\.\d+)?)\s*([kKmM]?)\s+(sent|received|cache write|cache hit)")


def _amount(number: str, suffix: str) -> int:
    value = float(number.replace(",", ""))
    return round(value * {"": 1, "k": 1_000, "m": 1_000_000}[suffix.lower()])


def aider_tokens(output: str) -> int:
    """The sum of every "Tokens: 2.3k sent, 1.1k cache write, 150 received." line."""
    total = 0
    for line in output.splitlines():
        match = _AIDER_TOKENS.search(line)
        if match:
            total += sum(_amount(n, s) for n, s, _ in _AMOUNT.findall(match.group(1)))
    return total


def aider(prompt: str, extra: list[str]) -> tuple[str, int]:
    """aider, one message then exit: the prompt in a temporary file
    (`--message-file`), every question answered yes. aider prints no
    machine-readable answer: the text is its console output."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".md",
                                     prefix="chatflow-prompt-", delete=False) as f:
        f.write(prompt)
        path = f.name
    try:
        out = run_tool([_bin("aider"), "--message-file", path, "--yes-always", "--no-pretty",
                        "--no-stream", "--no-check-update", *extra], None)
    finally:
        os.unlink(path)
    return out.strip(), aider_tokens(out)


# ---------------------------------------------------------------------------- any tool


def stdin_tool(prompt: str, extra: list[str]) -> tuple[str, int]:
    """Any command that reads a prompt on stdin and prints its answer."""
    if not extra:
        raise AgentFailed("`stdin` needs the tool to run: cli_agent.py stdin -- TOOL [ARGS...]")
    return run_tool(extra, prompt).strip(), 0


MODES: dict[str, Callable[[str, list[str]], tuple[str, int]]] = {
    "claude": claude, "codex": codex, "aider": aider, "stdin": stdin_tool,
}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in MODES:
        print(f"usage: cli_agent.py {{{','.join(MODES)}}} [-- ARGS...]", file=sys.stderr)
        return EXIT_USAGE
    extra = argv[2:]
    if extra and extra[0] == "--":
        extra = extra[1:]
    try:
        request: Any = json.load(sys.stdin)
    except ValueError as exc:
        print(f"cli_agent: the request on stdin is not JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not isinstance(request, dict) or not isinstance(request.get("prompt"), str):
        print("cli_agent: the request has no string `prompt`", file=sys.stderr)
        return EXIT_USAGE
    try:
        text, tokens = MODES[argv[1]](request["prompt"], extra)
    except AgentFailed as exc:
        print(f"cli_agent: {exc}", file=sys.stderr)
        return EXIT_TOOL_FAILED
    print(json.dumps({"text": text, "tokens": tokens}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
