"""The terminal summary of an import (``diazflow results``): what was stored, the best wells."""

from __future__ import annotations

from diazflow.results.models import METRIC_LABELS, RunResults


def summary_lines(results: RunResults) -> list[str]:
    """Plain lines: the wells with results, each metric's range, the best wells."""
    metrics = results.metrics
    lines = [f"{len(results.wells)} wells with results from {results.source}"]
    for metric in metrics:
        values = [v for r in results.wells.values() if (v := r.value(metric)) is not None]
        # not indented: a line after a diagnostic that starts with spaces reads as its hint
        lines.append(
            f"{METRIC_LABELS[metric]}: {len(values)} well{'s' if len(values) != 1 else ''}, "
            f"{min(values):g} to {max(values):g}, mean {sum(values) / len(values):.1f}"
        )
    return lines


def print_summary(results: RunResults, journal: str, *, stored: bool, out: str | None) -> None:
    """The summary as rich prints it (a table of the best wells); NO_COLOR is honoured."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    for line in summary_lines(results):
        console.print(line)
    main = results.main_metric
    best = results.best(5)
    if main is not None and best:
        table = Table(title=f"best wells by {METRIC_LABELS[main].lower()}", title_justify="left")
        table.add_column("well")
        for metric in results.metrics:
            table.add_column(METRIC_LABELS[metric], justify="right")
        table.add_column("comment")
        for r in best:
            cells = [f"{v:g}" if (v := r.value(m)) is not None else "" for m in results.metrics]
            table.add_row(r.well, *cells, r.comment or "")
        console.print(table)
    if stored:
        console.print(f"results stored in {journal}; see them with: diazflow report {journal}")
    else:
        console.print("checked: nothing stored (--check)")
    if out:
        console.print(f"results table written to {out}")
