"""A tiny driver process for the fault tests: resume one instance and exit.

    python fault_driver.py STATE_URL INSTANCE_ID WORKDIR
"""

from __future__ import annotations

import sys

from chatflow.runtime.api import WorkflowEngine
from chatflow.runtime.store import open_store


def main() -> int:
    url, iid, workdir = sys.argv[1:4]
    engine = WorkflowEngine(open_store(url), workdir=workdir)
    import chatflow.runtime.step_actions  # noqa: F401  (pay imports before "ready")

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    result = engine.resume(iid)
    return 0 if result.status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
