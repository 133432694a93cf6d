"""Analytical results back onto the plate (``diazflow results JOURNAL results.csv``).

* :class:`WellResult`, :class:`RunResults`: what an import holds (frozen models);
* :func:`load_results`: a journal's results, or None;
* :func:`import_results`: read and check a results CSV against a run, and store it.

Results live in the journal's SQLite file, in tables of their own (``results.store``); the report
draws them (heat maps, outcome by factor, best wells) and ``--out`` joins them with the plan's
per-well design. See docs/results.md.
"""

from diazflow.results.models import METRIC_LABELS, METRICS, PERCENT_METRICS, RunResults, WellResult
from diazflow.results.reading import (
    HEADER_ALIASES,
    check_results,
    import_results,
    normalise_well,
    read_results_csv,
)
from diazflow.results.store import load_results, read_results, store_results

__all__ = [
    "HEADER_ALIASES",
    "check_results",
    "import_results",
    "normalise_well",
    "read_results_csv",
    "METRICS",
    "METRIC_LABELS",
    "PERCENT_METRICS",
    "RunResults",
    "WellResult",
    "load_results",
    "read_results",
    "store_results",
]
