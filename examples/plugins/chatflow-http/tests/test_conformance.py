"""The `http` kind passes ChatFlow's action-kind conformance suite
(`chatflow.testing.action_conformance`), against a local `http.server`
started for each scenario."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from chatflow_http import HTTP

from chatflow.testing.action_conformance import ActionConformance, Sample

_RELEASE = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            _RELEASE.wait(30)
        status = 418 if self.path == "/teapot" else 200
        out = json.dumps({"path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class TestHttpKind(ActionConformance):
    # the spec object, so the suite runs without installing the plugin; an
    # installed plugin's tests can say `kind = "http"` (its entry point)
    kind = HTTP

    def start_service(self, tmp: Path) -> None:
        _RELEASE.clear()
        self._proxy = {k: os.environ.get(k) for k in ("no_proxy", "NO_PROXY")}
        os.environ["no_proxy"] = os.environ["NO_PROXY"] = "*"
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop_service(self) -> None:
        _RELEASE.set()
        self.server.shutdown()
        self.server.server_close()
        for k, v in self._proxy.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def samples(self) -> Sequence[Sample]:
        return [
            Sample(f"{self.base}/items", {"headers": {"Authorization": "Bearer s3cret"}},
                   secrets=("s3cret",)),
            Sample(f"{self.base}/items", {"method": "POST", "body": {"name": "w"},
                                          "expect": 201}),
            Sample(f"{self.base}/teapot", ok=False),
            Sample(f"{self.base}/items", {"expect": 204}, ok=False),
        ]

    def slow_sample(self) -> Sample | None:
        return Sample(f"{self.base}/slow")

    def refused_sample(self) -> Sample | None:
        return Sample("file:///etc/hostname")
