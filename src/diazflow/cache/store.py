"""The cache's files: one JSON entry per key, written atomically, checked on read, bounded.

An entry is ``<sha256 of the body>\\n<body>``; the body is JSON: the key, the list of
``[path, state]`` the result depends on (re-hashed on every lookup, like mypy's meta files) and
the result.  A truncated, corrupt or foreign entry is a miss, never an error: the command runs
uncached and writes the entry again.  Writers never collide: each writes a temporary file of its
own and renames it over the entry (``os.replace`` is atomic), so a reader sees a whole entry or
none, and two processes storing the same key leave one of their identical entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from typing import Any

ENTRY_FORMAT = 1  # raised when an entry's body changes shape: old entries are then misses
DEFAULT_MAX_MB = 64.0
RESULTS = f"results-v{ENTRY_FORMAT}"


def cache_dir() -> str:
    """``$DIAZFLOW_CACHE_DIR``, else ``$TMPDIR/diazflow-cache`` (the folder pint's unit cache
    already uses): never inside the user's project."""
    return os.environ.get("DIAZFLOW_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "diazflow-cache"
    )


def disabled_by_environment() -> bool:
    return os.environ.get("DIAZFLOW_NO_CACHE", "") not in ("", "0")


def max_bytes() -> int:
    try:
        megabytes = float(os.environ.get("DIAZFLOW_CACHE_MAX_MB", DEFAULT_MAX_MB))
    except ValueError:
        megabytes = DEFAULT_MAX_MB
    return int(max(megabytes, 0.0) * 1024 * 1024)


class EntryStore:
    """The entries of one cache folder (``<cache_dir>/results-v1/<key>.json``)."""

    def __init__(self, root: str | None = None):
        self.root = os.path.join(root or cache_dir(), RESULTS)

    def path(self, key: str) -> str:
        return os.path.join(self.root, key + ".json")

    def trusted(self) -> bool:
        """Whether only this user can have written the entries: the entries' folder is this
        user's and nobody else may write to it, nor replace it (its parent is this user's too, or
        sticky like /tmp).  A hit runs its plan on a robot: a folder someone else prepared in a
        shared temporary directory is never read nor written."""
        if not hasattr(os, "getuid"):
            return True
        try:
            folder, parent = os.stat(self.root), os.stat(os.path.dirname(self.root))
        except OSError:
            return False
        mine = os.getuid()

        def private(st: os.stat_result) -> bool:
            return st.st_uid == mine and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)

        return private(folder) and (private(parent) or bool(parent.st_mode & stat.S_ISVTX))

    def read(self, key: str) -> dict[str, Any] | None:
        """The entry's body, or None when there is none, it is damaged in any way, or the folder
        is not :meth:`trusted`."""
        path = self.path(key)
        if not self.trusted():
            return None
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
            checksum, _, body = raw.partition(b"\n")
            if hashlib.sha256(body).hexdigest().encode() != checksum:
                return None
            entry = json.loads(body)
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        with contextlib.suppress(OSError):  # recently used: evicted last
            os.utime(path)
        return entry

    def write(self, key: str, entry: dict[str, Any]) -> None:
        """Store atomically; a full disk or a read-only folder only means no cache."""
        body = json.dumps({**entry, "key": key}, ensure_ascii=False).encode("utf-8")
        data = hashlib.sha256(body).hexdigest().encode() + b"\n" + body
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            if not self.trusted():
                return
            fd, temp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".json")
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(temp, self.path(key))
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            return
        self.evict(max_bytes())

    def evict(self, limit: int) -> None:
        """Delete the least recently used entries until the folder holds at most ``limit``
        bytes; another process deleting the same file at the same time is no error."""
        sized = []
        try:
            with os.scandir(self.root) as listing:
                for item in listing:
                    if item.name.endswith(".json"):
                        with contextlib.suppress(OSError):
                            st = item.stat()
                            sized.append((st.st_mtime_ns, st.st_size, item.path))
        except OSError:
            return
        total = sum(size for _, size, _ in sized)
        for _, size, path in sorted(sized):
            if total <= limit:
                break
            with contextlib.suppress(OSError):
                os.unlink(path)
            total -= size
