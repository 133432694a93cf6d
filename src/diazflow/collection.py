"""When the ``diazflow`` command lets Python's cyclic garbage collector run.

Starting a command builds a large heap that lives until exit: the modules, pydantic's validators
and serializers, RDKit, PyLabRobot's resource classes, then the protocol, the plan and the deck's
thousands of resources.  Python's collector walks that whole heap again at every full collection
while it grows, although almost nothing in it is garbage: 100-150 ms of a 96-well dry run (265
collections), about a tenth of its CPU time (bench/README.md, "third pass").

So the command line defers collection during start-up (:func:`defer`), and the runtime calls
:func:`settle` once the deck is built and before the first operation: the start-up heap is moved
to the permanent generation (``gc.freeze``, the pattern CPython documents for long-lived
processes) and collection resumes for the run itself, which is what can run for days on a real
robot and must not accumulate cyclic garbage.  Commands that end without running (``validate``,
``compile``, ``report``...) finish with collection deferred: they are short and their peak
resident memory is measured in ``bench/`` with and without the deferral.

Library users (tests, notebooks, other programs) never call :func:`defer`; :func:`settle` is then a
no-op and Python's own policy is untouched.
"""

from __future__ import annotations

import gc

_deferred = False


def defer() -> None:
    """Stop automatic collection until :func:`settle` (the command line's entry point only)."""
    global _deferred
    if gc.isenabled():
        gc.disable()
        _deferred = True


def settle() -> None:
    """Freeze what start-up built and let the collector run again, if :func:`defer` stopped it."""
    global _deferred
    if _deferred:
        _deferred = False
        gc.freeze()
        gc.enable()
