"""Whether to colour a stream: the NO_COLOR (no-color.org) and FORCE_COLOR (force-color.org)
conventions, as rich's ``Console`` applies them, so diazflow's own escapes and rich agree.

- ``NO_COLOR`` set to a non-empty value: no colour (empty means unset);
- else ``FORCE_COLOR`` set to a non-empty value: colour even when the stream is not a terminal;
- else colour only on a terminal.
"""

from __future__ import annotations

import os
from typing import TextIO


def _set(name: str) -> bool:
    return os.environ.get(name, "") != ""


def use_color(stream: TextIO) -> bool:
    if _set("NO_COLOR"):
        return False
    if _set("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
