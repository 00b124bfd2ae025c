"""The `http` kind at run time: check and normalise the rendered values,
describe the request for a dry run, send it with `urllib`, and turn the
response into the step's fields (`ok`, `status`, `body`, `json`)."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from chatflow.runtime.actions.base import ActionContext, ActionResult
from chatflow.runtime.actions.kinds import ActionRuntime

DEFAULT_TIMEOUT_S = 30.0
MAX_BODY = 10 * 1024 * 1024
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


class HttpAction(ActionRuntime):
    def render(self, target: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
        url = (target or "").strip()
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"the URL must start with http:// or https://, not {url[:40]!r}")
        headers = {str(k): str(v) for k, v in (options.get("headers") or {}).items()}
        for k, v in headers.items():
            if not _TOKEN.match(k) or "\r" in v or "\n" in v:
                raise ValueError(f"header {k!r} is not a valid header name or value")
        body = options.get("body")
        text: str | None = None
        if body is not None:
            if isinstance(body, str):
                text = body
            else:
                text = json.dumps(body, ensure_ascii=False)
                if not any(k.lower() == "content-type" for k in headers):
                    headers["Content-Type"] = "application/json"
        method = str(options.get("method") or ("POST" if text is not None else "GET")).upper()
        if not _TOKEN.match(method):
            raise ValueError(f"{method!r} is not an HTTP method")
        expect = options.get("expect")
        return {"url": url, "method": method, "headers": headers, "body": text,
                "expect": None if expect is None else int(expect)}

    def describe(self, rendered: Mapping[str, Any]) -> str:
        parts = [f"{rendered['method']} {rendered['url']}"]
        if rendered.get("headers"):  # names only: values may be secrets
            parts.append("headers " + ", ".join(sorted(rendered["headers"])))
        if rendered.get("body") is not None:
            parts.append(f"body {len(str(rendered['body']).encode('utf-8'))} bytes")
        if rendered.get("expect") is not None:
            parts.append(f"expect {rendered['expect']}")
        return "; ".join(parts)

    def run(self, rendered: dict[str, Any], ctx: ActionContext) -> ActionResult:
        data = None if rendered.get("body") is None else str(rendered["body"]).encode("utf-8")
        request = urllib.request.Request(rendered["url"], data=data, method=rendered["method"],
                                         headers=dict(rendered.get("headers") or {}))
        timeout = ctx.timeout_s or DEFAULT_TIMEOUT_S
        result: dict[str, Any] = {}

        def send() -> None:
            try:
                with urllib.request.urlopen(request, timeout=timeout) as resp:
                    result["status"], result["raw"] = resp.status, resp.read(MAX_BODY)
            except urllib.error.HTTPError as exc:
                result["status"], result["raw"] = exc.code, exc.read(MAX_BODY)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", exc)
                result["error"] = f"{rendered['method']} {rendered['url']} failed: {reason}"

        sender = threading.Thread(target=send, daemon=True, name="chatflow-http")
        sender.start()
        while sender.is_alive():
            sender.join(0.1)
            if ctx.cancel.is_set():
                return ActionResult(False, _fields(False, 0, b""), "cancelled", cancelled=True)
        if "error" in result:
            timed_out = "timed out" in result["error"]
            return ActionResult(False, _fields(False, 0, b""), result["error"],
                                timed_out=timed_out)
        status = int(result["status"])
        expect = rendered.get("expect")
        ok = status == expect if expect is not None else 200 <= status < 300
        error = None if ok else (f"expected status {expect}, got {status}" if expect is not None
                                 else f"HTTP status {status}")
        return ActionResult(ok, _fields(ok, status, result["raw"]), error)


def _fields(ok: bool, status: int, raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8", "replace")
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    return {"ok": ok, "status": status, "body": text, "json": parsed}
