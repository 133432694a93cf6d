"""One safe way to write a file the user asked for (``compile -o``, ``schema -o``, ``report -o``).

What it guarantees, because an output path is typed by a person and sometimes by a script:

* only a new path or an existing regular file is written; a device (``-o /dev/null`` must not
  replace ``/dev/null``), a FIFO, a directory or a symbolic link is refused;
* never one of the command's own inputs (``compile W.yaml -o W.yaml`` would destroy the protocol);
* the temporary file is created beside the target with an unpredictable name, ``O_EXCL`` and no
  symlink following (:func:`tempfile.mkstemp`), so a planted symlink cannot redirect the write;
* the target keeps its permission bits (a 0600 file stays 0600; a new file gets the umask's);
* the rename is atomic and the temporary file is removed on every failure: no partial output.

A refused or failed write raises :class:`OutputError` with a one-line message and a hint; the CLI
turns it into exit 2 (a usage error), never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable


class OutputError(Exception):
    """The output could not be written; nothing was changed."""

    def __init__(self, path: str, message: str, hint: str | None = None):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
        self.hint = hint


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output_path(path: str, inputs: Iterable[str] = ()) -> os.stat_result | None:
    """Refuse an output path that must not be written; the target's stat if it exists."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(path, f"cannot be examined ({exc.strerror})") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise OutputError(
                path, "is a symbolic link; not followed", "give the path of the file itself"
            )
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise OutputError(path, f"is {kind}; refusing to replace it", "give a file name")
        for source in inputs:
            if source and _same_file(path, source):
                raise OutputError(
                    path,
                    "is an input of this command; refusing to overwrite it",
                    "write the output to another file",
                )
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OutputError(path, f"directory '{directory}' does not exist", "create it first")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(path, f"directory '{directory}' is not writable")
    return st


def write_output(path: str, data: str | bytes, *, inputs: Iterable[str] = ()) -> None:
    """Write ``data`` to ``path`` atomically, with the guarantees in the module docstring."""
    existing = check_output_path(path, tuple(inputs))
    payload = data.encode("utf-8") if isinstance(data, str) else data
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    except OSError as exc:
        raise OutputError(path, f"cannot create a file in '{directory}' ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        mode = stat.S_IMODE(existing.st_mode) if existing else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(path, f"could not be written ({exc.strerror})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
