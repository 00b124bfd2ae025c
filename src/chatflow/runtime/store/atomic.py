"""Crash-safe file writes: a reader sees the old bytes or the new, never a mix.

`atomic_write` writes a temp file in the same directory, flushes and fsyncs
it, renames it over the target and fsyncs the directory, so the new content
survives power loss once it returns.  `durable=False` skips both fsyncs: the
rename is still atomic for concurrent readers, but after a power cut the file
may hold the old content (used only for files rebuilt from a journal).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
from typing import Any

_tmp_ids = itertools.count(1)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a directory's entries (creations, renames) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], data: bytes, *, durable: bool = True) -> None:
    target = os.fspath(path)
    directory, name = os.path.split(target)
    unique = f"{os.getpid()}.{threading.get_ident()}.{next(_tmp_ids)}"
    tmp = os.path.join(directory, f".{name}.{unique}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(directory or ".")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

# The C encoder built once (JSONEncoder.encode builds one per call, which
# costs as much as encoding a small record).  Without a markers dict it does
# not look for reference cycles: stored values are JSON data, never cyclic.
_make_c_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE: Any = None if _make_c_encoder is None else _make_c_encoder(
    None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",",
    False, False, True)


def dumps_str(doc: Any) -> str:
    """The JSON text every store writes (compact; one shared encoder)."""
    if _C_ENCODE is None:
        return _ENCODER.encode(doc)
    return "".join(_C_ENCODE(doc, 0))


def dumps(doc: Any) -> bytes:
    """The JSON encoding every store file uses (compact, UTF-8)."""
    return dumps_str(doc).encode("utf-8")


def atomic_write_json(path: str | os.PathLike[str], doc: Any, *, durable: bool = True) -> None:
    atomic_write(path, dumps(doc), durable=durable)
