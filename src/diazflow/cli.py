"""The ``diazflow`` command line (spec §5): a thin layer over :mod:`diazflow.pipeline`.

Exit codes: 0 success, 1 invalid protocol, 2 usage error, 3 a failure while running.
Heavy imports (PyLabRobot, rich) happen inside the commands that need them so ``validate``
stays fast in a cold process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import glob
import json
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import click

from diazflow import __version__
from diazflow.exitcodes import EXIT_INVALID, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from diazflow.cache import CheckedPlan
    from diazflow.compiler.plan import Plan
    from diazflow.diagnostics import Acknowledged, WarningPolicy
    from diazflow.outputs import OutputError

_format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github", "junit"]),
    default="text",
    show_default=True,
    help="how diagnostics are printed",
)
_deck_option = click.option(
    "--deck",
    "deck",
    type=click.Path(dir_okay=False),
    default=None,
    help="deck layout to use instead of the protocol's own",
)


_start_option = click.option(
    "--start",
    "start",
    default=None,
    metavar="DATETIME",
    help='clock time of the start, e.g. "2026-12-07 09:00": clock times for the operator actions, and a warning (DF620) for those outside working hours (settings.working_hours, working_days)',
)
_quiet_option = click.option(
    "--quiet", "-q", is_flag=True, help="print only diagnostics and errors"
)
_no_cache_option = click.option(
    "--no-cache",
    "no_cache",
    is_flag=True,
    help="check from scratch: neither read nor write the result cache (also DIAZFLOW_NO_CACHE=1; docs/cache.md)",
)


_CODE_HELP = "a code (DF304) or a prefix (DF3: every DF3xx warning); repeatable"
_ignore_option = click.option(
    "--ignore", "ignore", multiple=True, metavar="CODE", help=f"hide these warnings: {_CODE_HELP}"
)
_select_option = click.option(
    "--select",
    "select",
    multiple=True,
    metavar="CODE",
    help=f"show only these warnings (errors are always shown): {_CODE_HELP}",
)
_error_option = click.option(
    "--error",
    "as_errors",
    multiple=True,
    metavar="CODE",
    help=f"treat these warnings as errors (exit 1): {_CODE_HELP}",
)
_warnings_as_errors_option = click.option(
    "--warnings-as-errors",
    "all_as_errors",
    is_flag=True,
    help="treat every warning as an error (exit 1), like --error DF; acknowledged ones too",
)


def _warning_options(command: Any) -> Any:
    """--ignore, --select, --error and --warnings-as-errors, in that order in --help."""
    for option in (_warnings_as_errors_option, _error_option, _select_option, _ignore_option):
        command = option(command)
    return command


def _code_patterns(option: str, values: tuple[str, ...]) -> tuple[str, ...]:
    """``values`` upper-cased; a usage error (exit 2) for one that is not ``DF`` and digits or
    names a code nobody registered, so that a typo never silently hides nothing."""
    from diazflow.errorcodes import REGISTRY

    patterns = []
    for value in values:
        code = value.strip().upper()
        well_formed = code.startswith("DF") and (code[2:].isdigit() or code == "DF")
        if not well_formed or not any(name.startswith(code) for name in REGISTRY):
            raise click.BadParameter(
                f"'{value}' is not a diagnostic code or prefix such as DF304 or DF3"
                " (docs/diagnostics.md lists them)",
                param_hint=option,
            )
        patterns.append(code)
    return tuple(patterns)


def _warning_policy(
    ignore: tuple[str, ...],
    select: tuple[str, ...],
    as_errors: tuple[str, ...],
    all_as_errors: bool,
) -> WarningPolicy:
    """The policy the warning options ask for (checked before any protocol is read)."""
    from diazflow.diagnostics import WarningPolicy

    promoted = _code_patterns("--error", as_errors) + (("DF",) if all_as_errors else ())
    return WarningPolicy(
        select=_code_patterns("--select", select),
        ignore=_code_patterns("--ignore", ignore),
        as_errors=promoted,
    )


def _apply_policy(diagnostics: list, policy: WarningPolicy) -> list:
    """The policy applied to findings made after the check (DF620 working hours)."""
    from diazflow.diagnostics import apply_warning_policy

    kept, _ = apply_warning_policy(diagnostics, policy)
    return kept


def _parse_start(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    from diazflow.wallclock import parse_start

    try:
        return parse_start(text)
    except ValueError:
        raise click.BadParameter(
            f"'{text}' is not a date and time like \"2026-12-07 09:00\"", param_hint="--start"
        ) from None


def _working_hours(plan: Plan, start: datetime.datetime | None, loaded: Any, path: str) -> list:
    """DF620 findings for a plan started at ``start`` (none without a start): positioned in the
    protocol when it was loaded, with its settings; else (a plan or journal) the defaults."""
    if start is None:
        return []
    from diazflow.compiler.working_hours import check_working_hours
    from diazflow.diagnostics import Reporter
    from diazflow.language.models import Settings

    if loaded is not None:
        return check_working_hours(plan, start, loaded.protocol.settings, loaded.reporter())
    return check_working_hours(plan, start, Settings(), Reporter(path))


def _expand_inputs(paths: tuple[str, ...]) -> list[str]:
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(
                glob.glob(os.path.join(path, "*.yaml")) + glob.glob(os.path.join(path, "*.yml"))
            )
            if not found:
                raise click.UsageError(f"no *.yaml files in directory '{path}'")
            files.extend(found)
        elif os.path.exists(path):
            files.append(path)
        else:
            raise click.UsageError(f"no such file or directory: '{path}'")
    return files


def _use_color() -> bool:
    from diazflow.terminal import use_color

    return use_color(sys.stdout)


def _print_diagnostics(
    results: dict, output_format: str, times: dict[str, float] | None = None
) -> None:
    from diazflow import diagnostics as d

    if output_format == "json":
        click.echo(d.format_json(results))
    elif output_format == "junit":
        click.echo(d.format_junit(results, times))
    elif output_format == "github":
        text = d.format_github([x for diags in results.values() for x in diags])
        if text:
            click.echo(text)
    else:
        color = _use_color()
        text = d.format_text([x for diags in results.values() for x in diags], color=color)
        if text:
            click.echo(text, color=color)  # click strips escapes off a pipe unless told


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="diazflow")
def cli() -> None:
    """Compile chemistry protocols (YAML) into timed liquid-handler plans and run them on PyLabRobot."""


@cli.command()
@click.argument("workflows", nargs=-1, required=True)
@_deck_option
@_format_option
@_quiet_option
@_warning_options
@_no_cache_option
def validate(
    workflows: tuple[str, ...],
    deck: str | None,
    output_format: str,
    quiet: bool,
    ignore: tuple[str, ...],
    select: tuple[str, ...],
    as_errors: tuple[str, ...],
    all_as_errors: bool,
    no_cache: bool,
) -> None:
    """Check protocol files (or every *.yaml in a directory): exit 0 if all are valid, 1 if not."""
    policy = _warning_policy(ignore, select, as_errors, all_as_errors)
    files = _expand_inputs(workflows)
    results = {}
    times: dict[str, float] = {}
    acknowledged: dict[str, list[Acknowledged]] = {}
    from diazflow.cache import cache_enabled, check_file

    use_cache = cache_enabled(no_cache)
    for path in files:
        started = _perf()
        result = check_file(path, deck, policy, use_cache=use_cache)
        results[result.path] = list(result.diagnostics)
        acknowledged[result.path] = list(result.acknowledged)
        times[result.path] = _perf() - started
    _print_diagnostics(results, output_format, times)
    invalid = [name for name, diags in results.items() if any(x.is_error for x in diags)]
    if output_format == "text" and not quiet:
        valid = len(results) - len(invalid)
        click.echo(f"{len(results)} protocol(s): {valid} valid, {len(invalid)} invalid", err=True)
        for line in _acknowledged_lines(acknowledged):
            click.echo(line, err=True)
    sys.exit(EXIT_INVALID if invalid else EXIT_OK)


def _acknowledged_lines(acknowledged: dict[str, list[Acknowledged]]) -> list[str]:
    """The warnings each protocol acknowledged (``settings.acknowledge``), one line per code
    with how many findings it covered and the reason given: accepted, but not hidden."""
    lines: list[str] = []
    for path, items in acknowledged.items():
        by_code: dict[str, list[Acknowledged]] = {}
        for a in items:
            by_code.setdefault(a.diagnostic.code, []).append(a)
        for code, found in sorted(by_code.items()):
            count = f"{len(found)} warning{'s' if len(found) > 1 else ''}"
            lines.append(f"  {path}: {code} ({count}): {found[0].reason}")
    return ["acknowledged (settings.acknowledge):", *lines] if lines else []


@cli.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="write to a file instead of stdout",
)
def schema(output: str | None) -> None:
    """Print the JSON Schema of the protocol language (for editors: yaml-language-server)."""
    from diazflow.language.schema import protocol_json_schema

    text = json.dumps(protocol_json_schema(), indent=2, sort_keys=True)
    if output:
        _write_output(output, text + "\n", ())
    else:
        click.echo(text)


@cli.command("decks")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def decks_command(as_json: bool) -> None:
    """List the built-in deck layouts (use one with --deck NAME or 'deck: NAME')."""
    from diazflow.deck import DeckLayoutError, load_deck
    from diazflow.deck.builtin import builtin_deck_names, builtin_deck_path

    rows: list[dict[str, Any]] = []
    for name in builtin_deck_names():
        path = builtin_deck_path(name)
        try:
            spec = load_deck(str(path))
        except DeckLayoutError as exc:  # a broken shipped layout is a bug: say so, list the rest
            rows.append({"name": name, "error": str(exc.diagnostics[0].message)})
            continue
        modules = [
            {"name": mod.name, "kind": mod.kind, "temperature_c": [mod.min_temp_c, mod.max_temp_c]}
            for mod in spec.modules.values()
        ]
        rows.append(
            {
                "name": name,
                "title": spec.name,
                "robot": spec.robot.kind,
                "channels": spec.robot.channels,
                "atmosphere": spec.atmosphere,
                "modules": modules,
                "path": str(path),
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        if "error" in row:
            click.echo(f"{row['name']}: broken layout ({row['error']})")
            continue
        click.echo(f"{row['name']}  {row['title']}")
        click.echo(f"    robot    {row['robot']}, {row['channels']} channels, {row['atmosphere']}")
        for mod in row["modules"]:
            low, high = mod["temperature_c"]
            span = f" ({low:g} to {high:g} °C)" if low is not None and high is not None else ""
            click.echo(f"    module   {mod['name']}: {mod['kind']}{span}")


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    mnt, s = divmod(rest, 60)
    return f"{h}h{mnt:02d}m{s:02d}s" if h else f"{mnt}m{s:02d}s"


def _when(seconds: float, start: datetime.datetime | None) -> str:
    """``1h02m03s`` from the start, with the clock time when the start is known."""
    if start is None:
        return _format_seconds(seconds)
    at = start + datetime.timedelta(seconds=seconds)
    return f"{at:%a %Y-%m-%d %H:%M} (+{_format_seconds(seconds)})"


def plan_summary(plan: Plan, start: datetime.datetime | None = None) -> str:
    """The human summary of a plan: makespan, operations by kind, tips, stocks, warnings; with
    ``start``, clock times for the stages and the operator's actions."""
    from collections import Counter

    from diazflow.compiler.plan import DispensePowder, Prompt, SetClosure, co_solutes_text
    from diazflow.language.units import format_volume as vol

    lines = [
        f"protocol   {plan.protocol}",
        f"deck       {plan.deck}",
        f"wells      {len(plan.wells)}",
        f"makespan   {_format_seconds(plan.makespan_s)} ({plan.makespan_s:.0f} s); lower bound {plan.lower_bound_s:.0f} s; ratio {plan.makespan_s / plan.lower_bound_s if plan.lower_bound_s else 1:.3f}",
    ]
    counts = Counter(op.op for op in plan.operations)
    lines.append(
        "operations "
        + ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
        + f" (total {len(plan.operations)})"
    )
    lines.append(
        "tips       " + (", ".join(f"{name} {n}" for name, n in plan.tips_used.items()) or "none")
    )
    stage = -1
    for s in sorted(plan.stocks, key=lambda x: x.stage):  # stable: the plan's order within a stage
        if s.stage != stage:
            stage = s.stage
            first = min(
                (x.first_use_s for x in plan.stocks if x.stage == stage and x.first_use_s),
                default=0.0,
            )
            # when the stage's stocks go out; a 'place:' step puts some out later
            set_out = min((x.placed_s or 0.0 for x in plan.stocks if x.stage == stage), default=0.0)
            lines.append(
                "prepare before start:"
                if stage == 0
                else f"prepare for stage {stage + 1} (first needed at {_when(first, start)}):"
            )
        material = f" of {s.purity * 100:g} % material" if s.purity else ""
        if s.form == "solid":
            lines.append(
                f"  - {s.substance}: {s.weigh_mg:.1f} mg{material} in total → {s.location}"
            )
            continue
        what = (
            f"{s.concentration_M:.4g} M in {s.solvent}"
            if s.concentration_M
            else (s.solvent or s.form)
        )
        if s.form == "supplied":
            extra = "; use as supplied (nothing to weigh)"
        elif s.measure_uL and s.weigh_mg:  # a liquid solute: by volume, its mass as a check
            extra = f"; measure {vol(s.measure_uL)} ({s.weigh_mg:.1f} mg{material}), make up to {vol(s.volume_uL)}"
        elif s.weigh_mg:
            extra = f"; weigh {s.weigh_mg:.1f} mg{material}, make up to {vol(s.volume_uL)}"
        elif s.purity:
            extra = f"; {s.purity * 100:g} % material (volumes corrected)"
        else:
            extra = ""
        extra += co_solutes_text(s.solutes)  # a premixed stock: what else to weigh
        if s.placed_s is not None and s.placed_s > set_out:
            extra += f"; put out at {_format_seconds(s.placed_s)} ('place:' step)"
        lines.append(
            f"  - {s.location}: {s.substance} ({what}), {vol(s.volume_uL)} incl. {vol(s.dead_volume_uL)} dead volume{extra}"
        )
    # what the operator does: prompts, caps on and off, powders weighed in by hand, with messages
    prompts = [
        op
        for op in plan.operations
        if isinstance(op, (Prompt, SetClosure, DispensePowder)) and op.device == "operator"
    ]
    if start is not None:
        lines.insert(
            4, f"start      {start:%a %Y-%m-%d %H:%M}; ends {_when(plan.makespan_s, start)}"
        )
    if prompts:
        lines.append("operator:")
        for op in prompts:
            lines.append(f"  - at {_when(op.t, start)}: {op.message}")
    return "\n".join(lines)


@cli.command(name="compile")
@click.argument("workflow", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), default=None, help="write the plan JSON here"
)
@_deck_option
@_format_option
@_start_option
@_quiet_option
@_warning_options
@_no_cache_option
def compile_command(
    workflow: str,
    output: str | None,
    deck: str | None,
    output_format: str,
    start: str | None,
    quiet: bool,
    ignore: tuple[str, ...],
    select: tuple[str, ...],
    as_errors: tuple[str, ...],
    all_as_errors: bool,
    no_cache: bool,
) -> None:
    """Compile a protocol into a timed plan and print a summary (makespan, operations, tips, stocks)."""
    policy = _warning_policy(ignore, select, as_errors, all_as_errors)
    start_at = _parse_start(start)
    if output:
        _check_output(output, (workflow,) + ((deck,) if deck else ()))
    checked = _checked_plan(workflow, deck, policy, start_at, no_cache)
    diags = list(checked.diagnostics) + list(checked.extra)
    _print_diagnostics({checked.path: diags}, output_format)
    if checked.failed or any(x.is_error for x in diags):
        sys.exit(EXIT_INVALID)
    if output:
        _write_output(output, checked.written_plan(), checked.inputs)
    if output_format == "text" and not quiet:
        click.echo(checked.summary)
        if output:
            click.echo(f"plan written to {output}")
    sys.exit(EXIT_OK)


def _checked_plan(
    workflow: str,
    deck: str | None,
    policy: WarningPolicy | None,
    start_at: datetime.datetime | None,
    no_cache: bool,
) -> CheckedPlan:
    """The check ``compile`` and ``run`` start from, through the result cache (docs/cache.md):
    the findings, the working-hours findings for ``--start`` and, if valid, the plan."""
    from diazflow.cache import cache_enabled, check_plan

    def working_hours(result) -> list:
        found = _working_hours(result.plan, start_at, result.loaded, result.path)
        return _apply_policy(found, policy) if policy is not None else found

    return check_plan(
        workflow,
        deck,
        policy,
        start_at.isoformat() if start_at is not None else None,
        use_cache=cache_enabled(no_cache),
        extra=working_hours,
        summary=lambda plan: plan_summary(plan, start_at),
    )


@cli.command(name="report")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default="report.html",
    show_default=True,
    help="the HTML file to write",
)
@click.option(
    "--png",
    "png_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="also write timeline.png and platemap.png into this directory",
)
@click.option(
    "--start",
    "start",
    default=None,
    metavar="DATETIME",
    help='clock time of the start, e.g. "2026-12-07 09:00" (a journal\'s own start is used otherwise); operator actions outside working hours are warned about (DF620)',
)
@_deck_option
@_format_option
@_quiet_option
@_warning_options
def report_command(
    source: str,
    output: str,
    png_dir: str | None,
    start: str | None,
    deck: str | None,
    output_format: str,
    quiet: bool,
    ignore: tuple[str, ...],
    select: tuple[str, ...],
    as_errors: tuple[str, ...],
    all_as_errors: bool,
) -> None:
    """Write ONE self-contained HTML report for a protocol (WORKFLOW), a plan JSON or a run JOURNAL.

    Timeline per device, block temperature, plate map, stocks to prepare, when the operator is
    needed, diagnostics and, for a journal, planned vs actual times.  Exit 1 if the protocol
    does not compile (the report then shows its diagnostics).
    """
    from diazflow.report import JournalError, render_html, report_for, write_pngs

    if png_dir:
        _require_extra("report")

    policy = _warning_policy(ignore, select, as_errors, all_as_errors)
    start_at = _parse_start(start)
    inputs = (source,) + ((deck,) if deck else ())
    _check_output(output, inputs)
    try:
        rep = report_for(source, deck_override=deck, start=start_at, warnings=policy)
    except JournalError as exc:
        raise click.UsageError(str(exc)) from None
    if rep.plan is not None and start_at is not None:
        rep.diagnostics.extend(
            _working_hours(rep.plan, start_at, _protocol_of(rep), rep.source_path)
        )
    rep.diagnostics[:] = _apply_policy(list(rep.diagnostics), policy)
    if rep.diagnostics:
        _print_diagnostics({rep.source_path: list(rep.diagnostics)}, output_format)
    _write_output(output, render_html(rep), inputs)
    written = [output]
    if png_dir and rep.plan is not None:
        written += write_pngs(rep, png_dir)
    if output_format == "text" and not quiet:
        for path in written:
            click.echo(f"report written to {path}")
    promoted = any(x.is_error for x in rep.diagnostics)
    sys.exit(EXIT_OK if rep.plan is not None and not promoted else EXIT_INVALID)


@cli.command(name="export")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--to",
    "target",
    type=click.Choice(["opentrons", "ord"]),
    required=True,
    help="the format: opentrons (an Opentrons Protocol API v2 file for the OT-2), ord (an Open Reaction Database dataset of a run JOURNAL)",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), required=True, help="the file to write"
)
@click.option(
    "--binary",
    is_flag=True,
    help="--to ord: protobuf binary (the default for -o NAME.pb), not text format (.pbtxt)",
)
@click.option(
    "--creator",
    envvar="DIAZFLOW_ORD_CREATOR",
    default=None,
    metavar="'NAME <EMAIL>'",
    help="--to ord: who writes the record (ORD requires a name and an e-mail); also DIAZFLOW_ORD_CREATOR",
)
@_deck_option
@_format_option
def export_command(
    source: str,
    target: str,
    output: str,
    binary: bool,
    creator: str | None,
    deck: str | None,
    output_format: str,
) -> None:
    """Write a workflow (compiled here) or a plan JSON as another robot's protocol file, or a run
    journal as an Open Reaction Database dataset.

    --to opentrons: an Opentrons Protocol API v2 Python file for an OT-2 deck, to import into the
    Opentrons App (docs/opentrons-export.md).  Exit 1 if the protocol does not compile or the
    deck is not an OT-2.

    --to ord: SOURCE is a run JOURNAL; one ORD Reaction per reaction well, with the amounts the
    devices recorded, the conditions, work-ups and imported results (docs/ord-export.md).  Exit
    1 if the run is not complete or its protocol changed since.
    """
    if target == "ord":
        _export_ord(source, output, binary, creator, deck, output_format)
    from diazflow.export.source import PlanFileError, opentrons_from_source

    _check_output(output, (source,) + ((deck,) if deck else ()))
    try:
        result = opentrons_from_source(source, deck)
    except PlanFileError as exc:
        raise click.UsageError(str(exc)) from None
    _print_diagnostics({result.path: list(result.diagnostics)}, output_format)
    if result.text is None:
        sys.exit(EXIT_INVALID)
    _write_output(output, result.text, result.inputs)
    if output_format == "text":
        click.echo(f"Opentrons protocol written to {output}")
    sys.exit(EXIT_OK)


def _export_ord(
    source: str,
    output: str,
    binary: bool,
    creator: str | None,
    deck: str | None,
    output_format: str,
) -> NoReturn:
    """``export --to ord JOURNAL``: the dataset, or the diagnostics that stop it (exit 1)."""
    if deck:
        raise click.UsageError("--deck does not apply to --to ord: the run's own deck is used")
    if not creator:
        raise click.UsageError(
            "--to ord needs --creator 'Name <e-mail>' (or DIAZFLOW_ORD_CREATOR): ORD requires "
            "who created each record"
        )
    _require_extra("ord")
    from diazflow.export.ord import Creator, CreatorError, ord_from_journal
    from diazflow.runtime.journal import JournalError

    try:
        who = Creator.parse(creator)
    except CreatorError as exc:
        raise click.UsageError(str(exc)) from None
    _check_output(output, (source,))
    try:
        result = ord_from_journal(source, who)
    except JournalError as exc:
        raise click.UsageError(str(exc)) from None
    _print_diagnostics({result.path: list(result.diagnostics)}, output_format)
    if result.dataset is None:
        sys.exit(EXIT_INVALID)
    as_binary = binary or output.endswith((".pb", ".binpb"))
    _write_output(output, result.encoded(as_binary), result.inputs)
    if output_format == "text":
        kind = "binary" if as_binary else "text format"
        click.echo(
            f"ORD dataset ({len(result.dataset.reactions)} reactions, {kind}) written to {output}"
        )
    sys.exit(EXIT_OK)


_inject_fault_option = click.option(
    "--inject-fault",
    "inject_fault",
    multiple=True,
    hidden=True,
    metavar="OP_ID:KIND",
    help="for testing: make a simulated device fail at an operation (tip_not_picked_up, temperature_timeout, connection_lost); also DIAZFLOW_INJECT_FAULT",
)


def _faults(specs: tuple[str, ...]):
    from diazflow.runtime.faults import FaultPlan

    try:
        return FaultPlan.parse(specs)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _print_run_diagnostics(result, output_format: str, extra: list | None = None) -> None:
    """Like ``validate`` prints them, but on stderr: a run's stdout starts with the journal path."""
    from diazflow import diagnostics as d

    diags = list(result.diagnostics) + list(extra or [])
    color = False
    if output_format == "json":
        text = d.format_json({result.path: diags})
    elif output_format == "junit":
        text = d.format_junit({result.path: diags})
    elif output_format == "github":
        text = d.format_github(diags)
    else:
        from diazflow.terminal import use_color

        color = use_color(sys.stderr)
        text = d.format_text(diags, color=color)
    if text:
        click.echo(text, err=True, color=color)


def _finish_run(outcome, started: float) -> None:
    from diazflow.runtime.runner import print_timings

    outcome.timings["total_in_process_s"] = _perf() - started
    outcome.timings["process_s"] = _process_seconds()
    print_timings(outcome.timings)
    if outcome.exit_code == EXIT_OK:
        click.echo(f"run complete; journal: {outcome.journal_path}")
    else:
        click.echo(
            f"error: {outcome.message} (journal kept: {outcome.journal_path}; continue with: diazflow resume {outcome.journal_path})",
            err=True,
        )
    _fast_exit(outcome.exit_code)
    sys.exit(outcome.exit_code)


def _fast_exit(code: int) -> None:
    """Leave without tearing down the interpreter when this process is the ``diazflow`` command.

    Freeing PyLabRobot's deck (thousands of resources) at interpreter shutdown costs 0.1-0.2 s;
    the journal is closed and the output flushed by now.  Never inside another program (tests
    that invoke the CLI in-process, ``CliRunner``).
    """
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    is_cli = (spec is not None and spec.name == "diazflow.cli") or os.path.basename(
        getattr(main, "__file__", "") or ""
    ) == "diazflow"
    if is_cli and os.environ.get("DIAZFLOW_NO_FAST_EXIT") is None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _perf() -> float:
    import time

    return time.perf_counter()


def _process_seconds() -> float:
    """Wall time since this process started (Linux: from /proc; elsewhere 0)."""
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = float(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


_log_option = click.option(
    "--log",
    "log",
    is_flag=True,
    help="write the run log (a line per step and per operator action) instead of the progress bar; the default when stdout is not a terminal",
)


@cli.command()
@click.argument("workflow", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--backend",
    type=click.Choice(["simulate", "chatterbox", "hardware"]),
    default="simulate",
    show_default=True,
    help="simulated devices, PyLabRobot's robot-specific chatterbox, or the real robot of the deck layout",
)
@click.option(
    "--speed",
    type=float,
    default=None,
    help="run N times faster than real time (default: a virtual clock, as fast as possible; hardware: real time)",
)
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="the run journal (SQLite); default runs/<protocol>-<time>.journal.sqlite",
)
@click.option("--quiet", is_flag=True, help="no progress bar, no run log")
@_log_option
@click.option(
    "--visualize",
    is_flag=True,
    help="serve PyLabRobot's Visualizer on localhost for a live view of the deck (use with --speed or on hardware)",
)
@_deck_option
@_format_option
@_start_option
@_warning_options
@_inject_fault_option
@_no_cache_option
def run(
    workflow: str,
    backend: str,
    speed: float | None,
    journal_path: str | None,
    quiet: bool,
    log: bool,
    visualize: bool,
    deck: str | None,
    output_format: str,
    start: str | None,
    ignore: tuple[str, ...],
    select: tuple[str, ...],
    as_errors: tuple[str, ...],
    all_as_errors: bool,
    inject_fault: tuple[str, ...],
    no_cache: bool,
) -> None:
    """Validate, compile and run a protocol; every operation is journalled (exit 3 if the run
    fails, 128 + the signal's number if a signal stopped it: 130 for Ctrl-C, 143 for SIGTERM)."""
    from diazflow.runtime.signals import stop_signals

    policy = _warning_policy(ignore, select, as_errors, all_as_errors)
    with stop_signals(), _interruptible():
        _run_command(
            workflow,
            backend,
            speed,
            journal_path,
            RunDisplay(quiet, log, _parse_start(start), policy, no_cache),
            visualize,
            deck,
            output_format,
            inject_fault,
        )


@dataclasses.dataclass(frozen=True)
class RunDisplay:
    """What ``run`` shows while it runs: nothing (``--quiet``), the run log (``--log``, or stdout
    not a terminal) or the progress bar; ``start``: the clock time of plan time 0 (``--start``)."""

    quiet: bool = False
    log: bool = False
    start: datetime.datetime | None = None
    warnings: WarningPolicy | None = None  # --ignore, --select, --error, --warnings-as-errors
    no_cache: bool = False  # --no-cache: check from scratch (docs/cache.md)


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """A signal before the journal exists ends the command with nothing done (no traceback)."""
    from diazflow.runtime.signals import RunInterrupted, signal_name

    try:
        yield
    except RunInterrupted as exc:
        click.echo(f"interrupted by {signal_name(exc.signum)}: nothing was run", err=True)
        sys.exit(exc.exit_code)


def _run_command(
    workflow: str,
    backend: str,
    speed: float | None,
    journal_path: str | None,
    display: RunDisplay,
    visualize: bool,
    deck: str | None,
    output_format: str,
    inject_fault: tuple[str, ...],
) -> None:
    started = _perf()
    _check_run_options(backend, speed)  # before the protocol is checked: exit 2 at once
    import_s = _perf() - started
    faults = _faults(inject_fault)
    t = _perf()
    # a real robot runs a plan derived in this process, never one read from a cache entry: the
    # check's second is nothing beside the robot's hours (docs/cache.md)
    from_scratch = display.no_cache or backend == "hardware"
    checked = _checked_plan(workflow, deck, display.warnings, display.start, from_scratch)
    _print_run_diagnostics(checked, output_format, list(checked.extra))
    if checked.failed:
        sys.exit(EXIT_INVALID)
    result = checked.run_source()  # from the cache: the plan as resume reads a journal's
    check_s = _perf() - t
    from diazflow.runtime.runner import UsageError, run_plan

    try:
        outcome = run_plan(
            result,
            backend=backend,
            speed=speed,
            journal_path=journal_path,
            quiet=display.quiet,
            log=display.log,
            start=display.start,
            faults=faults,
            visualize=visualize,
            inputs=list(checked.inputs),
            vessel_labware=checked.vessel_labware,
        )
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    outcome.timings["check_s"] = check_s
    outcome.timings["import_pipeline_s"] = import_s
    _finish_run(outcome, started)


@cli.command()
@click.argument("journal", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--speed",
    type=float,
    default=None,
    help="override the run's speed (default: as the run was started)",
)
@click.option("--quiet", is_flag=True, help="no progress bar, no run log")
@_log_option
@click.option(
    "--use-recorded-plan",
    is_flag=True,
    help="continue with the plan in the journal although the protocol, a library or a simulator profile changed since the run started",
)
@_inject_fault_option
def resume(
    journal: str,
    speed: float | None,
    quiet: bool,
    log: bool,
    use_recorded_plan: bool,
    inject_fault: tuple[str, ...],
) -> None:
    """Continue an interrupted or failed run from its journal, without repeating or skipping an operation."""
    started = _perf()
    from diazflow.runtime.runner import UsageError, resume_run
    from diazflow.runtime.signals import stop_signals

    faults = _faults(inject_fault)
    with stop_signals(), _interruptible():
        try:
            outcome = resume_run(
                journal,
                speed=speed,
                quiet=quiet,
                log=log,
                faults=faults,
                use_recorded_plan=use_recorded_plan,
            )
        except UsageError as exc:
            raise click.UsageError(str(exc)) from None
        _finish_run(outcome, started)


@cli.command(name="journal")
@click.argument("journal", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="print the state as JSON (status, completed, in_flight, dispensed_uL)",
)
def journal_command(journal: str, as_json: bool) -> None:
    """Show the state of a run from its journal: status, operations done and in flight, volumes dispensed."""
    from diazflow.runtime.runner import UsageError, format_state, journal_state

    try:
        state = journal_state(journal)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(state.to_json(), indent=1))
    else:
        click.echo(format_state(state))
    sys.exit(EXIT_OK)


@cli.command(name="results")
@click.argument("journal", type=click.Path(exists=True, dir_okay=False))
@click.argument("results_csv", metavar="RESULTS.csv", type=click.Path(dir_okay=False))
@click.option("--check", is_flag=True, help="check the results against the run; store nothing")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE.csv",
    help="also write the results joined with the plan's design (condition_id, factors, well, "
    "library members, results)",
)
@_format_option
@_quiet_option
def results_command(
    journal: str, results_csv: str, check: bool, out: str | None, output_format: str, quiet: bool
) -> None:
    """Attach per-well analytical results (an LC-MS export: well, conversion, yield, area %,
    purity, m/z, comment) to a run's JOURNAL; `diazflow report JOURNAL` then draws them.

    The CSV is checked against the run's reaction wells first: any error (exit 1) stores
    nothing.  A new import replaces the previous one; what was recorded about the run is never
    changed.  See docs/results.md for the columns and spellings accepted.
    """
    from diazflow.diagnostics import Reporter
    from diazflow.results import import_results
    from diazflow.runtime.journal import JournalError

    if out:
        _check_output(out, (journal, results_csv))
    reporter = Reporter(results_csv)
    try:
        results = import_results(journal, results_csv, reporter, store=not check)
    except JournalError as exc:
        raise click.UsageError(str(exc)) from None
    diagnostics = reporter.sorted()
    if diagnostics or output_format != "text":
        _print_diagnostics({results_csv: diagnostics}, output_format)
    if results is None:
        sys.exit(EXIT_INVALID)
    if out:
        from diazflow.compiler.plan import Plan
        from diazflow.results.table import design_csv
        from diazflow.runtime.journal import Journal

        with Journal.open(journal, read_only=True) as opened:
            plan = Plan.from_json(opened.info().plan_json)
        _write_output(out, design_csv(plan, results), (journal, results_csv))
    if output_format == "text" and not quiet:
        from diazflow.results.summary import print_summary

        print_summary(results, journal, stored=not check, out=out)
    sys.exit(EXIT_OK)


def _protocol_of(rep: Any) -> Any:
    """The loaded protocol a report was made from (its settings, its positions), or None for a
    plan or a journal."""
    if rep.source_kind != "workflow":
        return None
    from diazflow.language.loader import load_protocol

    return load_protocol(rep.source_path).loaded


def _check_run_options(backend: str, speed: float | None) -> None:
    from diazflow.extras import MissingExtra
    from diazflow.runtime.runner import UsageError, check_run_options

    try:
        check_run_options(backend, speed)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    except MissingExtra as exc:
        _missing_extra(exc)


def _require_extra(name: str) -> None:
    """Stop before any work when an optional extra is missing (one line, exit 2)."""
    from diazflow.extras import MissingExtra, require

    try:
        require(name)
    except MissingExtra as exc:
        _missing_extra(exc)


def _missing_extra(exc: Exception) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_USAGE)


def _refuse_output(exc: OutputError) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    if exc.hint:
        click.echo(f"  hint: {exc.hint}", err=True)
    sys.exit(EXIT_USAGE)


def _check_output(path: str, inputs: tuple[str, ...]) -> None:
    """Refuse a bad output path before any work is done (exit 2)."""
    from diazflow.outputs import OutputError, check_output_path

    try:
        check_output_path(path, inputs)
    except OutputError as exc:
        _refuse_output(exc)


def _write_output(path: str, text: str | bytes, inputs: tuple[str, ...]) -> None:
    """:func:`diazflow.outputs.write_output`; a refusal or I/O error is exit 2, never a traceback."""
    from diazflow.outputs import OutputError, write_output

    try:
        write_output(path, text, inputs=inputs)
    except OutputError as exc:
        _refuse_output(exc)


def _utf8_console() -> None:
    """An 8-bit locale (LANG=C on old systems, latin-1) cannot encode the '→', '…', 'µ' and '°'
    diazflow prints: such a stream is switched to UTF-8 (unencodable characters replaced) rather
    than crash the command half-way."""
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or "ascii"
        try:
            "→…µ°".encode(encoding)
        except (UnicodeEncodeError, LookupError):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(encoding="utf-8", errors="replace")


def _single_threaded_blas() -> None:
    """numpy (imported by pint) starts one OpenBLAS thread per core at import; diazflow does no
    linear algebra worth a thread, so a command starts none.  Only for the command line, and only
    where the user has not chosen: set before any command imports numpy."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _require_working_directory() -> None:
    """Protocols, libraries and decks are named relative to the working directory: one deleted
    under a shell still in it makes every command fail, so say so once (as git does)."""
    try:
        os.getcwd()
    except OSError as exc:
        click.echo(
            f"error: the working directory cannot be read ({exc.strerror}): cd to another one",
            err=True,
        )
        sys.exit(EXIT_USAGE)


def main() -> None:
    from diazflow import collection

    collection.defer()  # until the run starts: see diazflow/collection.py
    _single_threaded_blas()
    _require_working_directory()
    from diazflow.extras import MissingExtra

    _utf8_console()
    try:
        cli.main(standalone_mode=False)
    except MissingExtra as exc:  # found late (resuming a hardware run): the same one line
        _missing_extra(exc)
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
