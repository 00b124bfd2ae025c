"""The `http` action kind for ChatFlow: what the compiler needs to know about
it, as data. Importing this module imports nothing else of ChatFlow's
runtime: the request code is in `chatflow_http.runtime`, loaded only when a
step runs (or is shown by a dry run)."""

from __future__ import annotations

from chatflow.plugins import ActionKind, Option

HTTP = ActionKind(
    name="http",
    doc="sends one HTTP request (Python's standard library) and records the response",
    target="str",
    target_doc="URL",
    options={
        "method": Option("str", "the request method (default: GET, or POST with a body)"),
        "headers": Option("map[str]", "request headers (values are sent as given, never "
                                      "through a shell)"),
        "body": Option("json", "the request body: a string is sent as UTF-8 text, any other "
                               "value as JSON (with `Content-Type: application/json`)"),
        "expect": Option("int", "the status the step needs to succeed (default: any 2xx)"),
    },
    fields={"ok": "bool", "status": "int", "body": "str", "json": "json"},
    runtime="chatflow_http.runtime:HttpAction",
)
