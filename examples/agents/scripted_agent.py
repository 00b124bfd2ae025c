"""A scripted stand-in for an AI agent, for running the examples offline.

ChatFlow's built-in `command` agent adapter runs this script with the request
as JSON on stdin ({"prompt", "with", "instance_id", "step"}) and reads the
reply, {"text": "...", "tokens": N}, from stdout.

    python3 agents/scripted_agent.py ROLE      # ROLE: planner, fixer or chatcoder

The reply is canned per role and module. Environment knobs:
  SCRIPTED_AGENT_TOKENS   tokens to report per answer (default: 4000 for the
                          planner, 2500 for the fixer, 3000 for chatcoder)
  SCRIPTED_AGENT_DELAY    seconds to "think" before answering (default 0.5)
"""

from __future__ import annotations

import json
import os
import sys
import time

DEFAULT_TOKENS = {"planner": 4000, "fixer": 2500, "chatcoder": 3000}


def answer(role: str, request: dict[str, object]) -> str:
    extra = request.get("with")
    module = extra.get("module", "?") if isinstance(extra, dict) else "?"
    if role == "planner":
        return (f"In module {module}: import logging, add a module logger, and "
                f"replace each print() with logger.info().")
    if role == "fixer":
        return f"In module {module}: the test captured stdout; assert on caplog instead."
    if role == "chatcoder":
        prompt = str(request.get("prompt", ""))
        return f"(scripted chatcoder) Done: {prompt[:120]}"
    return f"({role}) nothing to say about module {module}."


def main(argv: list[str]) -> int:
    role = argv[1] if len(argv) > 1 else "planner"
    try:
        request = json.load(sys.stdin)
    except ValueError as exc:
        print(f"scripted agent: bad request on stdin: {exc}", file=sys.stderr)
        return 2
    if not isinstance(request, dict):
        print("scripted agent: the request is not a JSON object", file=sys.stderr)
        return 2
    time.sleep(float(os.environ.get("SCRIPTED_AGENT_DELAY", "0.5")))
    tokens = int(os.environ.get("SCRIPTED_AGENT_TOKENS", DEFAULT_TOKENS.get(role, 1000)))
    print(json.dumps({"text": answer(role, request), "tokens": tokens}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
