"""Diagnostics: what every stage reports about a protocol, and how the CLI prints them.

Every check in diazflow reports :class:`Diagnostic` values through a :class:`Reporter` rather than
raising, so that one ``validate`` run reports every defect in a file.  Codes are registered once in
:mod:`diazflow.errorcodes` and documented in ``docs/diagnostics.md``: DF1xx schema, DF2xx
quantities, DF3xx chemistry, DF4xx hazards, DF5xx deck and robot, DF6xx timing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from html import escape as _html_escape
from typing import Protocol

from diazflow.errorcodes import DF000, ErrorCode, Severity, lookup


def did_you_mean(word: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The closest candidate to a misspelt ``word`` (for a hint), or None."""
    import difflib

    close = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=cutoff)
    return close[0] if close else None


def listing(names: Sequence[str], limit: int = 6) -> str:
    """The first ``limit`` names and how many more: 'A13, B13, C13 and 282 more'."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


@dataclass(frozen=True)
class WarningPolicy:
    """Which warnings a run shows, hides or treats as errors (``--select``, ``--ignore``,
    ``--warnings-as-errors``; codes or prefixes such as ``DF3``), and the warnings a protocol
    acknowledges with a reason (``settings.acknowledge``).  Errors are never hidden."""

    select: tuple[str, ...] = ()  # only these warnings (empty: every warning)
    ignore: tuple[str, ...] = ()
    as_errors: tuple[str, ...] = ()  # these warnings become errors ("DF" for all)
    acknowledged: Mapping[str, str] = field(default_factory=dict)  # code → the reason given


@dataclass(frozen=True)
class Acknowledged:
    """A warning the protocol acknowledged: kept out of the findings, listed in the summary."""

    diagnostic: Diagnostic
    reason: str


def _matches(code: str, patterns: Sequence[str]) -> bool:
    return any(code.startswith(p.strip().upper()) for p in patterns if p.strip())


def apply_warning_policy(
    diagnostics: Iterable[Diagnostic], policy: WarningPolicy
) -> tuple[list[Diagnostic], list[Acknowledged]]:
    """(the diagnostics to report, the acknowledged warnings).  Promotion wins over everything
    (a CI gate asked for it); then an acknowledgement, then --ignore and --select."""
    kept: list[Diagnostic] = []
    acknowledged: list[Acknowledged] = []
    for d in diagnostics:
        if d.is_error:
            kept.append(d)
        elif _matches(d.code, policy.as_errors):
            kept.append(replace(d, severity=Severity.ERROR))
        elif d.code in policy.acknowledged:
            acknowledged.append(Acknowledged(d, policy.acknowledged[d.code]))
        elif _matches(d.code, policy.ignore):
            continue
        elif policy.select and not _matches(d.code, policy.select):
            continue
        else:
            kept.append(d)
    return kept, acknowledged


__all__ = [
    "Acknowledged",
    "WarningPolicy",
    "apply_warning_policy",
    "Diagnostic",
    "DiagnosticsError",
    "ErrorCode",
    "Position",
    "Reporter",
    "Severity",
    "has_errors",
    "listing",
    "sort_unique",
]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding about one place in one file.

    ``line`` and ``column`` are 1-based; 0 means "the file as a whole" (for example an
    unreadable file).  The dataclass orders by file, line, column so reports are stable.
    """

    file: str
    line: int
    column: int
    code: str
    severity: Severity
    message: str
    hint: str | None = None

    def __post_init__(self) -> None:
        # a str field on a frozen dataclass: normalise through object.__setattr__
        object.__setattr__(self, "code", lookup(self.code).code)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_dict(self) -> dict:
        d = asdict(self)
        d["severity"] = self.severity.value
        return d


class DiagnosticsError(Exception):
    """Raised by a stage that cannot go on; carries every diagnostic found so far."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        super().__init__("; ".join(f"{d.code}: {d.message}" for d in self.diagnostics[:3]))


@dataclass(frozen=True)
class Position:
    """A 1-based place in a file, for findings not reached through a path into a document."""

    line: int
    column: int


WHOLE_FILE = Position(0, 0)
"""Where a finding about a file as a whole (unreadable, too large, missing) is reported."""


class Locator(Protocol):
    """What a reporter needs of a parsed document (``SourceDocument`` is one)."""

    def position(self, path: tuple, *, key: bool = False) -> tuple[int, int]: ...


Where = tuple | Position
"""A path into the document (``("steps", 3, "add", "equiv")``) or an explicit :class:`Position`."""


class Reporter:
    """Collects the diagnostics of one check run; handed to every stage (mypy's ``Errors``).

    A stage calls :meth:`error` or :meth:`warn` with a path into its document (or a
    :class:`Position`), a registered code, a message and an optional hint.  :meth:`for_file` gives a
    reporter for another file (a deck layout, a library CSV) that adds to the same list, so the
    pipeline ends with every finding of the run in one place.
    """

    def __init__(
        self,
        filename: str,
        source: Locator | None = None,
        *,
        diagnostics: list[Diagnostic] | None = None,
    ):
        self.filename = filename
        self.source = source
        self.diagnostics: list[Diagnostic] = [] if diagnostics is None else diagnostics

    def for_file(self, filename: str, source: Locator | None = None) -> Reporter:
        """A reporter for ``filename`` that shares this one's diagnostics."""
        return Reporter(filename, source, diagnostics=self.diagnostics)

    def locate(self, where: Where, *, key: bool = False) -> tuple[int, int]:
        if isinstance(where, Position):
            return (where.line, where.column)
        if self.source is None:
            return (WHOLE_FILE.line, WHOLE_FILE.column)
        return self.source.position(where, key=key)

    def report(
        self,
        where: Where,
        code: ErrorCode | str,
        message: str,
        hint: str | None = None,
        *,
        severity: Severity | None = None,
        key: bool = False,
    ) -> Diagnostic:
        """Record one finding; ``severity`` defaults to the code's registered severity."""
        registered = lookup(code)
        line, column = self.locate(where, key=key)
        diagnostic = Diagnostic(
            self.filename,
            line,
            column,
            registered.code,
            severity or registered.default_severity,
            message,
            hint,
        )
        self.diagnostics.append(diagnostic)
        return diagnostic

    def error(
        self,
        where: Where,
        code: ErrorCode | str,
        message: str,
        hint: str | None = None,
        *,
        key: bool = False,
    ) -> Diagnostic:
        return self.report(where, code, message, hint, severity=Severity.ERROR, key=key)

    def warn(
        self,
        where: Where,
        code: ErrorCode | str,
        message: str,
        hint: str | None = None,
        *,
        key: bool = False,
    ) -> Diagnostic:
        return self.report(where, code, message, hint, severity=Severity.WARNING, key=key)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        """Take findings made elsewhere (a sub-loader's, a stage not yet converted)."""
        self.diagnostics.extend(diagnostics)

    @property
    def has_errors(self) -> bool:
        return has_errors(self.diagnostics)

    def count(self) -> int:
        """How many findings so far: compare before and after a call to see whether it reported."""
        return len(self.diagnostics)

    def errors_since(self, mark: int) -> bool:
        """Whether an error was reported after :meth:`count` returned ``mark``."""
        return has_errors(self.diagnostics[mark:])

    def sorted(self) -> list[Diagnostic]:
        return sort_unique(self.diagnostics)


def internal_error(
    shown: str, exc: BaseException, *, yours: str = "your protocol", send: str = "the file"
) -> tuple[Diagnostic, ...]:
    """A bug in diazflow caught by a command's last line of defence: DF000 on the whole of
    ``shown``, never a traceback, so the user sees which file and that it is not their fault."""
    reporter = Reporter(shown)
    reporter.error(
        WHOLE_FILE,
        DF000,
        f"internal error: {type(exc).__name__}: {exc}",
        f"this is a bug in diazflow, not in {yours}; please report it with {send}",
    )
    return tuple(reporter.diagnostics)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_unique(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by position, each finding once (two checks may reach the same conclusion)."""
    return sorted(set(diagnostics))


# --------------------------------------------------------------------------- formatting

FORMATS = ("text", "json", "github", "junit")


def _location(d: Diagnostic) -> str:
    if d.line <= 0:
        return d.file
    return f"{d.file}:{d.line}:{d.column}"


def format_text(diagnostics: Sequence[Diagnostic], *, color: bool = False) -> str:
    """Compiler-style lines: ``file:line:col: error DF301: message`` plus an indented hint."""
    out: list[str] = []
    for d in diagnostics:
        sev = d.severity.value
        if color:
            tint = "\x1b[1;31m" if d.is_error else "\x1b[1;33m"
            sev = f"{tint}{sev}\x1b[0m"
            loc = f"\x1b[1m{_location(d)}\x1b[0m"
        else:
            loc = _location(d)
        out.append(f"{loc}: {sev} {d.code}: {d.message}")
        if d.hint:
            out.append(f"  hint: {d.hint}")
    return "\n".join(out)


JSON_FORMAT_VERSION = 1
"""``--format json``'s ``version``: raised when a key changes meaning or goes; new keys keep it."""


def format_json(results: dict[str, Sequence[Diagnostic]]) -> str:
    """One JSON document: ``{"version": 1, "files": [{"file", "valid", "diagnostics": [...]}]}``."""
    files = [
        {
            "file": name,
            "valid": not has_errors(diags),
            "diagnostics": [d.to_dict() for d in diags],
        }
        for name, diags in results.items()
    ]
    return json.dumps(
        {"version": JSON_FORMAT_VERSION, "files": files}, indent=2, ensure_ascii=False
    )


def _github_escape(text: str, *, property_value: bool = False) -> str:
    # GitHub workflow-command escaping: %, CR and LF always; ':' and ',' inside properties.
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def format_github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands, so errors are annotated on the pull request's lines."""
    out = []
    for d in diagnostics:
        kind = "error" if d.is_error else "warning"
        props = [f"file={_github_escape(d.file, property_value=True)}"]
        if d.line > 0:
            props += [f"line={d.line}", f"col={d.column}"]
        props.append(f"title={_github_escape(d.code, property_value=True)}")
        message = d.message + (f" (hint: {d.hint})" if d.hint else "")
        out.append(f"::{kind} {','.join(props)}::{_github_escape(message)}")
    return "\n".join(out)


# Characters XML 1.0 does not allow at all (not even as &#n;): C0 controls but tab, LF and CR,
# surrogates, U+FFFE and U+FFFF; and those it discourages, DEL and the C1 controls (XML 1.1
# forbids them raw).  A YAML double-quoted "\x01" or "\e" puts them in a message.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _visible(match: re.Match[str]) -> str:
    return (
        f"\\x{ord(match.group()):02x}"
        if ord(match.group()) < 0x100
        else f"\\u{ord(match.group()):04x}"
    )


def xml_text(text: str) -> str:
    """Escape for XML character data; characters XML cannot carry are written as ``\\x1b``."""
    return _html_escape(_NOT_XML.sub(_visible, text), quote=False)


def xml_attr(text: str) -> str:
    """Escape for a double-quoted XML attribute; tab, LF and CR as character references, which an
    XML parser keeps (written raw, attribute-value normalisation turns them into spaces)."""
    escaped = _html_escape(_NOT_XML.sub(_visible, text), quote=True)
    return escaped.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")


def _seconds(value: float) -> str:
    # Surefire's SUREFIRE_TIME: digits, at most three decimals, no exponent
    return f"{max(value, 0.0):.3f}"


def format_junit(
    results: dict[str, Sequence[Diagnostic]], times: dict[str, float] | None = None
) -> str:
    """JUnit XML as Surefire writes it (Jenkins, GitLab, Azure read it): one ``<testsuite>``, one
    ``<testcase>`` per protocol file (``time``: seconds spent checking it, when known); a file with
    errors has one ``<failure>`` whose ``type`` is its first error's code and whose text lists
    every error; warnings go to ``<system-out>``.  Valid XML for any message: see :func:`xml_text`."""
    times = times or {}
    failures = sum(1 for diags in results.values() if has_errors(diags))
    total = sum(times.get(name, 0.0) for name in results)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuite name="diazflow validate" tests="{len(results)}" failures="{failures}" '
        f'errors="0" skipped="0" time="{_seconds(total)}">',
    ]
    for name, diags in results.items():
        lines.append(
            f'  <testcase classname="diazflow.validate" name="{xml_attr(name)}" '
            f'time="{_seconds(times.get(name, 0.0))}">'
        )
        errors = [d for d in diags if d.is_error]
        if errors:
            first = errors[0]
            summary = xml_attr(f"{len(errors)} error(s): {first.code} {first.message}")
            lines.append(
                f'    <failure message="{summary}" type="{xml_attr(first.code)}">'
                f"{xml_text(format_text(errors))}</failure>"
            )
        warnings = [d for d in diags if not d.is_error]
        if warnings:
            lines.append(f"    <system-out>{xml_text(format_text(warnings))}</system-out>")
        lines.append("  </testcase>")
    lines.append("</testsuite>")
    return "\n".join(lines)
