"""The file backend's commit mark, `instances/<id>/.mark`: one fixed-width
line `<journal offset> <rev> <next_seq> <crc32>` rewritten in place (one
pwrite, no rename, no fsync) after every commit, so a journal that lost its
last commits is told even though the status file lags (docs/state-stores.md).
A torn or garbage mark fails its CRC and reads as no mark."""

from __future__ import annotations

import contextlib
import os
import zlib

__all__ = ["MARK_BYTES", "MarkFiles", "decode_mark", "encode_mark"]

MARK_BYTES = 64


def encode_mark(offset: int, rev: int, next_seq: int) -> bytes:
    """The `.mark` record: where the journal's last commit ended, fixed-width
    (rewritten in place) with a CRC, so a torn write reads as no mark."""
    body = b"%d %d %d" % (offset, rev, next_seq)
    return (body + b" %08x" % zlib.crc32(body)).ljust(MARK_BYTES - 1) + b"\n"


def decode_mark(data: bytes) -> tuple[int, int, int] | None:
    parts = data.split()
    if len(parts) != 4:
        return None
    body = b" ".join(parts[:3])
    try:
        if int(parts[3], 16) != zlib.crc32(body):
            return None
        offset, rev, next_seq = (int(p) for p in parts[:3])
    except ValueError:
        return None
    return offset, rev, next_seq


class MarkFiles:
    """Open `.mark` files of one process (at most `limit`), written in place."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.fds: dict[str, int] = {}

    def write(self, instance_id: str, path: str, offset: int, rev: int, next_seq: int) -> None:
        fd = self.fds.get(instance_id)
        if fd is None:
            if len(self.fds) >= self.limit:
                self.close()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            self.fds[instance_id] = fd
        try:
            os.pwrite(fd, encode_mark(offset, rev, next_seq), 0)
        except OSError:
            self.fds.pop(instance_id, None)
            os.close(fd)
            raise

    def close(self) -> None:
        for fd in self.fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()
