"""A worker process of the `parallel` strategy: run one step's action.

    python -m chatflow.runtime.worker   < request.json   > result.json

The request (JSON on stdin) holds the action type and the values the engine
already rendered; the answer (one JSON line on stdout) is the
`ActionResult`. The worker never touches the state store: claiming and
committing stay in the driver. SIGTERM, or the driver's death (the parent
pid changes), cancels the action, which kills its process group.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any


def _watch_parent(parent: int, cancel: threading.Event) -> None:
    while not cancel.wait(0.2):
        if os.getppid() != parent:
            cancel.set()


def main() -> int:
    request: dict[str, Any] = json.loads(sys.stdin.read())
    cancel = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        cancel.set()

    signal.signal(signal.SIGTERM, on_term)
    threading.Thread(target=_watch_parent, args=(os.getppid(), cancel), daemon=True).start()
    from chatflow.runtime.step_actions import make_context, run_local

    ctx = make_context(str(request["instance_id"]), str(request["step"]),
                       int(request["attempt"]), dict(request["rendered"]),
                       str(request["workdir"]), str(request["task_dir"]), cancel)
    res = run_local(str(request["type"]), dict(request["rendered"]), ctx, None)
    answer = {"ok": res.ok, "fields": res.fields, "error": res.error, "tokens": res.tokens,
              "cpu_s": res.cpu_s, "timed_out": res.timed_out, "cancelled": res.cancelled}
    sys.stdout.write(json.dumps(answer, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
