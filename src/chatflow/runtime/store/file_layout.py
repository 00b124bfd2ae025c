"""Where the file backend keeps things, and making sure it can: the state
location must be a directory (`StoreURLError`, exit 2, when the URL names a
file, a device, or a place no directory can be made), and `setup()` creates
the layout and `store.json` on the first write (docs/state-stores.md)."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

from chatflow.runtime.store.atomic import atomic_write_json
from chatflow.runtime.store.base import (
    StoreFormatError,
    StoreURLError,
    os_errors_as_store_errors,
    store_io_error,
)
from chatflow.runtime.store.records import FORMAT_VERSION


class FileLayout:
    """The paths of a `file:` store rooted at `root`."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._hist_paths: dict[str, str] = {}
        self._ready = False

    def _check_location(self) -> None:
        """`file:PATH` must name a directory, or a place where one can be made."""
        try:
            st = os.stat(self.root)
        except FileNotFoundError:
            return                      # created by the first write
        except NotADirectoryError:
            raise StoreURLError(f"the state location {self.root} cannot be a directory: a "
                                "part of its path is a file; --state file:DIR needs a "
                                "directory") from None
        except OSError as exc:
            raise StoreURLError(f"cannot use {self.root} as the state location: "
                                f"{exc.strerror or exc}") from None
        if not stat.S_ISDIR(st.st_mode):
            raise StoreURLError(f"the state location {self.root} is {_file_kind(st.st_mode)}, "
                                "not a directory; --state file:DIR needs a directory")

    # -- layout ------------------------------------------------------------
    def _instances(self) -> Path:
        return self.root / "instances"

    def status_path(self, instance_id: str) -> Path:
        return self._instances() / f"{instance_id}.json"

    def instance_dir(self, instance_id: str) -> Path:
        return self._instances() / instance_id

    def state_path(self, instance_id: str) -> Path:
        return self.instance_dir(instance_id) / "state.json"

    def history_path(self, instance_id: str) -> Path:
        return self.instance_dir(instance_id) / "history.ndjson"

    def mark_path(self, instance_id: str) -> Path:
        return self.instance_dir(instance_id) / ".mark"

    def lock_path(self, instance_id: str) -> Path:
        return self.instance_dir(instance_id) / ".lock"

    def _hist(self, instance_id: str) -> str:
        """history.ndjson as a string (hot path: no pathlib)."""
        path = self._hist_paths.get(instance_id)
        if path is None:
            path = self._hist_paths[instance_id] = str(self.history_path(instance_id))
        return path

    def _index_path(self) -> Path:
        return self.root / ".indexes" / "feature_index.json"

    @os_errors_as_store_errors
    def stored_format(self) -> int | None:
        """The format recorded in `store.json`; 1 for a v1.0 tree without it;
        None when nothing is stored yet."""
        meta = self.root / "store.json"
        try:
            doc = json.loads(meta.read_bytes())
            return int(doc["format"])
        except FileNotFoundError:
            inst = self._instances()
            if inst.is_dir() and any(p.suffix == ".json" for p in inst.iterdir()):
                return 1
            return None
        except IsADirectoryError:
            raise StoreFormatError(f"{meta}: a directory stands where the store's metadata "
                                   "file belongs; move it away") from None
        except (ValueError, KeyError, TypeError) as e:
            raise StoreFormatError(f"{meta}: unreadable store metadata ({e})") from None

    def setup(self) -> None:
        if self._ready:
            return
        meta = self.root / "store.json"
        try:
            for d in (self.root, self._instances(), self.root / ".indexes",
                      self.root / "schemas"):
                d.mkdir(parents=True, exist_ok=True)
            if not meta.exists():
                atomic_write_json(meta, {"format": FORMAT_VERSION})
        except OSError as exc:
            if meta.is_file():
                raise store_io_error(exc) from None
            # Not a store yet: the location the URL names is unusable.
            raise StoreURLError(f"cannot make a state store in {self.root}: "
                                f"{exc.filename or self.root}: {exc.strerror or exc}; "
                                "pick another location with --state") from None
        self._ready = True



def _file_kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a directory"


def stamp() -> str:
    """A time-and-pid suffix for backup copies (`.corrupt-<stamp>`)."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{os.getpid()}"
