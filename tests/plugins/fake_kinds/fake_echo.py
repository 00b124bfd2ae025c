"""A tiny action kind for the tests: `echo "TEXT" { times N, fail_with S }`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chatflow.plugins import ActionKind, Option

ECHO = ActionKind(
    name="echo", doc="repeats its target", target="str", target_doc="TEXT",
    options={"times": Option("int", "how often"), "fail_with": Option("str", "raise this")},
    fields={"ok": "bool", "text": "str", "count": "int"},
    runtime="fake_echo:EchoRuntime")


class EchoRuntime:
    def render(self, target: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
        if int(options.get("times", 1)) < 0:
            raise ValueError("times must not be negative")
        return {"text": target, "times": int(options.get("times", 1)),
                "fail_with": options.get("fail_with")}

    def run(self, rendered: dict[str, Any], ctx: Any) -> Any:
        from chatflow.runtime.actions.base import ActionResult

        if rendered["fail_with"]:
            raise RuntimeError(rendered["fail_with"])
        text = " ".join([str(rendered["text"])] * rendered["times"])
        return ActionResult(True, {"ok": True, "text": text, "count": rendered["times"]})

    def describe(self, rendered: Mapping[str, Any]) -> str:
        return f"echo {rendered['text']!r} x{rendered['times']}"

    def cancel(self, ctx: Any) -> None:
        pass


TICK = ActionKind(
    name="tick", doc="takes no target", target=None,
    options={"every": Option("duration", "how often")}, fields={"ok": "bool"},
    runtime="fake_echo:EchoRuntime")
