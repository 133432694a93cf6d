"""The ``diazflow`` command line (spec §5): a thin layer over :mod:`diazflow.pipeline`.

Exit codes: 0 success, 1 invalid protocol, 2 usage error, 3 a failure while running.
Heavy imports (PyLabRobot, rich) happen inside the commands that need them so ``validate``
stays fast in a cold process.
"""

from __future__ import annotations

import glob
import json
import os
import sys

import click

from diazflow import __version__

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_RUN_FAILED = 0, 1, 2, 3

_format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github", "junit"]),
    default="text",
    show_default=True,
    help="how diagnostics are printed",
)
_deck_option = click.option("--deck", "deck", type=click.Path(dir_okay=False), default=None, help="deck layout to use instead of the protocol's own")


def _expand_inputs(paths: tuple[str, ...]) -> list[str]:
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(glob.glob(os.path.join(path, "*.yaml")) + glob.glob(os.path.join(path, "*.yml")))
            if not found:
                raise click.UsageError(f"no *.yaml files in directory '{path}'")
            files.extend(found)
        elif os.path.exists(path):
            files.append(path)
        else:
            raise click.UsageError(f"no such file or directory: '{path}'")
    return files


def _use_color() -> bool:
    return sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def _print_diagnostics(results: dict, output_format: str) -> None:
    from diazflow import diagnostics as d

    if output_format == "json":
        click.echo(d.format_json(results))
    elif output_format == "junit":
        click.echo(d.format_junit(results))
    elif output_format == "github":
        text = d.format_github([x for diags in results.values() for x in diags])
        if text:
            click.echo(text)
    else:
        text = d.format_text([x for diags in results.values() for x in diags], color=_use_color())
        if text:
            click.echo(text)


def safe_check(path: str, deck: str | None):
    """:func:`diazflow.pipeline.check`, with a bug in diazflow reported as DF000, never a traceback."""
    from diazflow.diagnostics import Diagnostic, Severity
    from diazflow.pipeline import CheckResult, check, display_path

    try:
        return check(path, deck_override=deck)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for the user
        message = f"internal error: {type(exc).__name__}: {exc}"
        hint = "this is a bug in diazflow, not in your protocol; please report it with the file"
        return CheckResult(display_path(path), (Diagnostic(display_path(path), 0, 0, "DF000", Severity.ERROR, message, hint),))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="diazflow")
def cli() -> None:
    """Compile chemistry protocols (YAML) into timed liquid-handler plans and run them on PyLabRobot."""


@cli.command()
@click.argument("workflows", nargs=-1, required=True)
@_deck_option
@_format_option
def validate(workflows: tuple[str, ...], deck: str | None, output_format: str) -> None:
    """Check protocol files (or every *.yaml in a directory): exit 0 if all are valid, 1 if not."""
    files = _expand_inputs(workflows)
    results = {}
    for path in files:
        result = safe_check(path, deck)
        results[result.path] = list(result.diagnostics)
    _print_diagnostics(results, output_format)
    invalid = [name for name, diags in results.items() if any(x.is_error for x in diags)]
    if output_format == "text":
        valid = len(results) - len(invalid)
        click.echo(f"{len(results)} protocol(s): {valid} valid, {len(invalid)} invalid", err=True)
    sys.exit(EXIT_INVALID if invalid else EXIT_OK)


@cli.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None, help="write to a file instead of stdout")
def schema(output: str | None) -> None:
    """Print the JSON Schema of the protocol language (for editors: yaml-language-server)."""
    from diazflow.language.schema import protocol_json_schema

    text = json.dumps(protocol_json_schema(), indent=2, sort_keys=True)
    if output:
        _atomic_write(output, text + "\n")
    else:
        click.echo(text)


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    mnt, s = divmod(rest, 60)
    return f"{h}h{mnt:02d}m{s:02d}s" if h else f"{mnt}m{s:02d}s"


def plan_summary(plan) -> str:
    """The human summary of a plan: makespan, operations by kind, tips, stocks, warnings."""
    from collections import Counter

    lines = [
        f"protocol   {plan.protocol}",
        f"deck       {plan.deck}",
        f"wells      {len(plan.wells)}",
        f"makespan   {_format_seconds(plan.makespan_s)} ({plan.makespan_s:.0f} s); lower bound {plan.lower_bound_s:.0f} s; ratio {plan.makespan_s / plan.lower_bound_s if plan.lower_bound_s else 1:.3f}",
    ]
    counts = Counter(op.op for op in plan.operations)
    lines.append("operations " + ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) + f" (total {len(plan.operations)})")
    lines.append("tips       " + (", ".join(f"{name} {n}" for name, n in plan.tips_used.items()) or "none"))
    lines.append("prepare before start:")
    for s in plan.stocks:
        if s.form == "solid":
            lines.append(f"  - {s.substance}: {s.weigh_mg:.1f} mg in total → {s.location}")
            continue
        what = f"{s.concentration_M:g} M in {s.solvent}" if s.concentration_M else (s.solvent or s.form)
        extra = f"; weigh {s.weigh_mg:.1f} mg, make up to {s.volume_uL / 1000:.2f} mL" if s.weigh_mg else ""
        lines.append(f"  - {s.location}: {s.substance} ({what}), {s.volume_uL:.0f} µL incl. {s.dead_volume_uL:.0f} µL dead volume{extra}")
    prompts = [op for op in plan.operations if op.device == "operator"]
    if prompts:
        lines.append("operator:")
        for op in prompts:
            lines.append(f"  - at {_format_seconds(op.t)}: {op.message}")
    return "\n".join(lines)


@cli.command(name="compile")
@click.argument("workflow", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="write the plan JSON here")
@_deck_option
@_format_option
def compile_command(workflow: str, output: str | None, deck: str | None, output_format: str) -> None:
    """Compile a protocol into a timed plan and print a summary (makespan, operations, tips, stocks)."""
    result = safe_check(workflow, deck)
    _print_diagnostics({result.path: list(result.diagnostics)}, output_format)
    if result.plan is None:
        sys.exit(EXIT_INVALID)
    if output:
        _atomic_write(output, result.plan.to_json())
    if output_format == "text":
        click.echo(plan_summary(result.plan))
        if output:
            click.echo(f"plan written to {output}")
    sys.exit(EXIT_OK)


def _atomic_write(path: str, text: str) -> None:
    """Write via a temporary file and rename, so a failure never leaves a partial file."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    main()
