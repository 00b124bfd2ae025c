"""The coding-agent recipes of docs/agents.md (examples/agents/cli_agent.py),
run through the real `command` adapter against fake `claude`, `codex` and
`aider` executables that answer as the real tools do. The prompt reaches the
tool as data (stdin or a file), byte for byte, and never runs as a command."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from chatflow.runtime.actions import ActionContext, run_agent
from chatflow.runtime.config import AgentConfig, Config

REPO = Path(__file__).resolve().parents[2]
CLI_AGENT = REPO / "examples" / "agents" / "cli_agent.py"

# Each fake records its argv and what it was given (stdin, or the message
# file for aider) in $FAKE_LOG, then answers in the tool's own format.
FAKE_CLAUDE = """
import json, os, sys
prompt = sys.stdin.read()
json.dump({"argv": sys.argv[1:], "prompt": prompt}, open(os.environ["FAKE_LOG"], "w"))
if os.environ.get("FAKE_FAIL"):
    print(json.dumps({"type": "result", "subtype": "error_max_turns", "is_error": True,
                      "result": "ran out of turns"}))
    sys.exit(0)
print(json.dumps({"type": "result", "subtype": "success", "is_error": False,
                  "result": "claude says: " + prompt[:20], "session_id": "s-1",
                  "usage": {"input_tokens": 3, "cache_creation_input_tokens": 100,
                            "cache_read_input_tokens": 1000, "output_tokens": 6}}))
"""
FAKE_CODEX = """
import json, os, sys
prompt = sys.stdin.read()
json.dump({"argv": sys.argv[1:], "prompt": prompt}, open(os.environ["FAKE_LOG"], "w"))
events = [{"type": "thread.started", "thread_id": "t-1"}, {"type": "turn.started"},
          {"type": "item.completed", "item": {"id": "i0", "type": "reasoning", "text": "hm"}},
          {"type": "item.completed", "item": {"id": "i1", "type": "agent_message",
                                              "text": "first"}},
          {"type": "item.completed", "item": {"id": "i2", "type": "agent_message",
                                              "text": "codex says: " + prompt[:20]}}]
if os.environ.get("FAKE_FAIL"):
    events.append({"type": "turn.failed", "error": {"message": "model overloaded"}})
else:
    events.append({"type": "turn.completed",
                   "usage": {"input_tokens": 1200, "cached_input_tokens": 1000,
                             "output_tokens": 34}})
print("Reading prompt from stdin...", file=sys.stderr)
for e in events:
    print(json.dumps(e))
"""
FAKE_AIDER = """
import json, os, sys
args = sys.argv[1:]
prompt = open(args[args.index("--message-file") + 1], encoding="utf-8").read()
json.dump({"argv": args, "prompt": prompt}, open(os.environ["FAKE_LOG"], "w"))
print("Aider v0.86.0")
print("aider says: " + prompt[:20])
print("Applied edit to app.py")
print("Tokens: 2.3k sent, 1.1k cache write, 150 received. Cost: $0.01 message, $0.01 session.")
print("Tokens: 1,204 sent, 56 received.")
"""
HOSTILE = 'fix it; $(touch "$CANARY_DIR/pwned") `touch "$CANARY_DIR/pwned2"` \'"\n-- --model x\n'


def load_cli_agent() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_agent", CLI_AGENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tools(tmp_path: Path) -> dict[str, Any]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("claude", FAKE_CLAUDE), ("codex", FAKE_CODEX), ("aider", FAKE_AIDER)):
        exe = bin_dir / name
        exe.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
        exe.chmod(0o755)
    canary = tmp_path / "canary"
    canary.mkdir()
    return {"bin": bin_dir, "log": tmp_path / "fake.json", "canary": canary}


def ask(tmp_path: Path, tools: dict[str, Any], mode: str, prompt: str = HOSTILE,
        extra: str = "", **env: str) -> Any:
    command = (f"{shlex.quote(sys.executable)} {shlex.quote(str(CLI_AGENT))} {mode}"
               + (f" -- {extra}" if extra else ""))
    config = Config(agents={"coder": AgentConfig("coder", command=command, options={
        "env": {"PATH": f"{tools['bin']}{os.pathsep}{os.environ['PATH']}",
                "FAKE_LOG": str(tools["log"]), "CANARY_DIR": str(tools["canary"]), **env}})})
    ctx = ActionContext(instance_id="i-1", step="design", attempt=1, workdir=tmp_path,
                        task_dir=tmp_path / "task")
    return run_agent("coder", prompt, {"module": "a"}, ctx, config)


def recorded(tools: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(tools["log"].read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize(("mode", "text", "tokens"), [
    ("claude", "claude says: fix it; $(touch \"$CA", 3 + 100 + 1000 + 6),
    ("codex", "codex says: fix it; $(touch \"$CA", 1200 + 34),
])
def test_recipe_answers_with_text_and_tokens(tmp_path: Path, tools: dict[str, Any],
                                            mode: str, text: str, tokens: int) -> None:
    result = ask(tmp_path, tools, mode)
    assert result.ok, result.error
    assert result.fields == {"ok": True, "text": text, "tokens": tokens}
    assert result.tokens == tokens
    assert recorded(tools)["prompt"] == HOSTILE  # on stdin, byte for byte
    assert not any(tools["canary"].iterdir()), "a prompt ran as a command"


def test_aider_recipe(tmp_path: Path, tools: dict[str, Any]) -> None:
    result = ask(tmp_path, tools, "aider", extra="--model sonnet app.py")
    assert result.ok, result.error
    assert "aider says: fix it;" in result.fields["text"]
    assert result.tokens == 2300 + 1100 + 150 + 1204 + 56
    seen = recorded(tools)
    assert seen["prompt"] == HOSTILE  # from the message file
    assert seen["argv"][-3:] == ["--model", "sonnet", "app.py"]
    assert "--yes-always" in seen["argv"]
    assert not any(tools["canary"].iterdir())
    message_file = Path(seen["argv"][seen["argv"].index("--message-file") + 1])
    assert not message_file.exists()  # the prompt file is removed afterwards


def test_the_prompt_never_becomes_arguments(tmp_path: Path, tools: dict[str, Any]) -> None:
    ask(tmp_path, tools, "claude", extra="--model sonnet")
    argv = recorded(tools)["argv"]
    assert argv == ["-p", "--output-format", "json", "--model", "sonnet"]
    ask(tmp_path, tools, "codex")
    assert recorded(tools)["argv"] == ["exec", "--json", "-"]


def test_generic_stdin_recipe(tmp_path: Path, tools: dict[str, Any]) -> None:
    result = ask(tmp_path, tools, "stdin", prompt="hello\n",
                 extra=f"{shlex.quote(sys.executable)} -c "
                       + shlex.quote("import sys; print(sys.stdin.read().upper())"))
    assert result.ok, result.error
    assert result.fields == {"ok": True, "text": "HELLO", "tokens": 0}


@pytest.mark.parametrize(("mode", "message"), [
    ("claude", "claude reported an error (error_max_turns): ran out of turns"),
    ("codex", "codex failed: model overloaded"),
])
def test_a_tool_that_fails_fails_the_step(tmp_path: Path, tools: dict[str, Any], mode: str,
                                          message: str) -> None:
    result = ask(tmp_path, tools, mode, FAKE_FAIL="1")
    assert not result.ok
    assert result.error is not None and message in result.error
    assert "agent command exited with code 1" in result.error


def test_a_missing_tool_says_so(tmp_path: Path, tools: dict[str, Any]) -> None:
    result = ask(tmp_path, tools, "claude", CHATFLOW_AGENT_BIN="no-such-claude")
    assert not result.ok
    assert result.error is not None and "`no-such-claude` is not installed" in result.error


@pytest.mark.parametrize(("line", "tokens"), [
    ("Tokens: 1,204 sent, 56 received.", 1260),
    ("Tokens: 12k sent, 133 received. Cost: $0.04 message, $0.10 session.", 12133),
    ("Tokens: 2.3k sent, 1.1k cache write, 4.5k cache hit, 150 received.", 8050),
    ("Tokens: 1.5M sent, 2k received.", 1_502_000),
    ("no usage here", 0),
])
def test_aider_token_lines(line: str, tokens: int) -> None:
    assert load_cli_agent().aider_tokens(f"answer\n{line}\nmore\n") == tokens
