"""Reports: one self-contained HTML page (and optional PNGs) for a protocol, plan or run journal.

* :func:`report_for` reads a protocol (compiling it), a plan JSON or a run journal;
* :func:`render_html` turns the :class:`Report` into one HTML file with no external resources;
* :func:`write_pngs` draws the timeline and plate map with matplotlib (Agg), for notebooks and e-mail;
* the live view of a run (PyLabRobot's Visualizer, ``run --visualize``) is :mod:`diazflow.runtime.visualizer`.

See docs/reports.md.
"""

from diazflow.report.html import render_html
from diazflow.report.inputs import (
    detect_kind,
    report_for,
    report_from_journal,
    report_from_plan,
    report_from_workflow,
)
from diazflow.report.journal import JournalError, JournalView, OpRecord, load_journal
from diazflow.report.model import Report, parse_start


def write_pngs(report: Report, directory: str) -> list[str]:
    from diazflow.report.png import write_pngs as _write

    return _write(report, directory)


__all__ = [
    "JournalError",
    "JournalView",
    "OpRecord",
    "Report",
    "detect_kind",
    "load_journal",
    "parse_start",
    "render_html",
    "report_for",
    "report_from_journal",
    "report_from_plan",
    "report_from_workflow",
    "write_pngs",
]
