"""Which files a check looked at: every path it opened and every path whose existence it asked
about, found or not, so that creating a missing library or profile later is a miss too.

Opens are seen through an audit hook (``open`` is raised by ``open()``, ``io.open_code`` and
``os.open`` before the file is opened, so a failed open is seen as well).  Existence probes
(``os.path.exists``, ``Path.is_file``, ``os.path.isdir``) raise no audit event; they all end in
``os.stat``, which is wrapped for the duration of the check only.  The import system calls the
``posix`` functions directly, so importing modules is not seen through the wrapper.

Only a cache miss records (the check runs anyway); a hit re-hashes the stored list.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

_active: list[set[str]] = []
_hook_installed = False


def _remember(path: object) -> None:
    if not _active or isinstance(path, int):
        return
    try:
        name = os.fsdecode(path)  # type: ignore[arg-type]
    except TypeError:
        return
    _active[-1].add(os.path.abspath(name))


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _active and args:
        _remember(args[0])


@contextlib.contextmanager
def recording_reads() -> Iterator[set[str]]:
    """The absolute paths opened or probed inside the block (filter them with :func:`inputs`)."""
    global _hook_installed
    if not _hook_installed:  # an audit hook cannot be removed: one per process, idle outside
        sys.addaudithook(_audit)
        _hook_installed = True
    seen: set[str] = set()
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if kwargs.get("dir_fd") is None:
            _remember(path)
        return real_stat(path, *args, **kwargs)

    _active.append(seen)
    os.stat = stat
    try:
        yield seen
    finally:
        os.stat = real_stat
        _active.pop()


def _excluded_roots(cache_dir: str) -> tuple[str, ...]:
    """Where a file is no input of the user's: the Python installation and its libraries
    (their versions are in the key), diazflow's own code and data (hashed in the key), the
    cache's entries and pint's unit cache, and the kernel's pseudo file systems."""
    import site
    import sysconfig

    from diazflow.cache.fingerprint import package_data_roots
    from diazflow.cache.store import RESULTS

    paths = sysconfig.get_paths()
    roots = [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths]
    roots += site.getsitepackages() if hasattr(site, "getsitepackages") else []
    roots.append(site.getusersitepackages())
    # the cache's own folders only, not all of DIAZFLOW_CACHE_DIR: it may be the project itself
    cache_folders = [os.path.join(cache_dir, name) for name in (RESULTS, "pint")]
    roots += [os.path.dirname(os.__file__), *cache_folders, *package_data_roots()]
    roots += ["/proc", "/sys", "/dev"]
    return tuple(os.path.abspath(r) + os.sep for r in roots if r)


def inputs(seen: set[str], cache_dir: str) -> list[str]:
    """The recorded paths that are the user's inputs (see :func:`_excluded_roots`), sorted."""
    excluded = _excluded_roots(cache_dir)
    return sorted(p for p in seen if not (p + os.sep).startswith(excluded))
