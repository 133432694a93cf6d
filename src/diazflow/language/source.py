"""YAML loading that remembers where every value came from.

PyYAML's C loader composes a node graph that carries line and column marks.  We walk it
ourselves instead of calling ``safe_load`` so that

* every mapping key and value keeps its ``(line, column)`` for diagnostics;
* duplicate keys are errors (``safe_load`` silently keeps the last one);
* tags other than the plain YAML ones (``!!python/object`` and friends) are errors, never executed;
* aliases are resolved with a budget, so a "billion laughs" document is refused in microseconds
  instead of being expanded;
* big files are refused before they are parsed.

Scalars are resolved with YAML 1.1 rules as ``safe_load`` does (so ``NO`` is False and ``1:30`` is
90); the protocol schema's strict string fields turn those traps into errors.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import yaml

from diazflow import errorcodes as codes
from diazflow.diagnostics import Diagnostic, Severity
from diazflow.errorcodes import ErrorCode, lookup

try:  # the C composer is ~10x faster; fall back quietly where libyaml is missing
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Loader = yaml.SafeLoader

MAX_FILE_BYTES = 2 * 1024 * 1024
"""Protocols are hand-written; anything larger is a mistake or an attack."""

MAX_NODES = 50_000
"""Budget for nodes visited, aliases included, which bounds alias expansion ("billion laughs")."""

MAX_DEPTH = 100
"""Deepest nesting of mappings and lists accepted (a protocol needs about 6)."""

Path = tuple  # a path into the document: ("steps", 3, "add", "equiv")

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:timestamp",
}


@dataclass(frozen=True)
class SourceDocument:
    """A parsed YAML document with the position of every key and value."""

    filename: str
    data: Any
    key_positions: Mapping[Path, tuple[int, int]] = field(default_factory=dict)
    value_positions: Mapping[Path, tuple[int, int]] = field(default_factory=dict)
    raw_scalars: Mapping[Path, str] = field(default_factory=dict)
    """The text as written of every plain scalar that YAML did *not* read as a string
    (``NO``, ``1:30``, ``012``, ``2024-01-01``, ``~``), so diagnostics can show what was written."""

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Position of the value at ``path`` (or its key), else of the deepest known ancestor."""
        path = tuple(path)
        while True:
            table = self.key_positions if key else self.value_positions
            if path in table:
                return table[path]
            other = self.value_positions if key else self.key_positions
            if path in other:
                return other[path]
            if not path:
                return (1, 1)
            path = path[:-1]

    def diagnostic(
        self,
        path: Path,
        code: ErrorCode | str,
        message: str,
        hint: str | None = None,
        *,
        severity: Severity = Severity.ERROR,
        key: bool = False,
    ) -> Diagnostic:
        line, column = self.position(path, key=key)
        return Diagnostic(self.filename, line, column, lookup(code).code, severity, message, hint)


def _error(
    filename: str, line: int, column: int, code: ErrorCode, message: str, hint: str | None = None
) -> Diagnostic:
    """An error at a position of a file that could not become a :class:`SourceDocument`."""
    return Diagnostic(filename, line, column, code.code, Severity.ERROR, message, hint)


class YamlSourceError(Exception):
    """The text is not a usable YAML document; carries the diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__(diagnostics[0].message if diagnostics else "invalid YAML")
        self.diagnostics = diagnostics


class _Walker:
    def __init__(self, filename: str):
        self.filename = filename
        self.keys: dict[Path, tuple[int, int]] = {}
        self.values: dict[Path, tuple[int, int]] = {}
        self.raw: dict[Path, str] = {}
        self.errors: list[Diagnostic] = []
        self.visited = 0
        self._constructor = yaml.constructor.SafeConstructor()

    def _error(
        self, node: yaml.Node, code: ErrorCode, message: str, hint: str | None = None
    ) -> None:
        mark = node.start_mark
        self.errors.append(
            _error(self.filename, mark.line + 1, mark.column + 1, code, message, hint)
        )

    def walk(self, node: yaml.Node, path: Path, depth: int = 0) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise _BudgetExceeded(node)
        if depth > MAX_DEPTH:
            raise _BudgetExceeded(node, nested=True)
        self.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if node.tag not in _PLAIN_TAGS:
            shown = (
                "!!" + node.tag[len("tag:yaml.org,2002:") :]
                if node.tag.startswith("tag:yaml.org,2002:")
                else node.tag
            )
            self._error(
                node,
                codes.DF105,
                f"YAML tag '{shown}' is not allowed in a protocol",
                "remove the tag; protocols hold plain values only (nothing is ever executed)",
            )
            return None
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            # merge keys ("<<") are expanded by flatten_mapping, as safe_load would do; it puts the
            # merged entries first, and a key written out in the mapping overrides a merged one
            explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
            self._constructor.flatten_mapping(node)
            merged_count = len(node.value) - explicit
            explicit_keys = {
                k.value for k, _ in node.value[merged_count:] if isinstance(k, yaml.ScalarNode)
            }
            for index, (key_node, value_node) in enumerate(node.value):
                if (
                    index < merged_count
                    and isinstance(key_node, yaml.ScalarNode)
                    and key_node.value in explicit_keys
                ):
                    continue  # overridden by the mapping's own key
                key = self.walk(key_node, path + ("<key>",), depth + 1)
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    self._error(key_node, codes.DF103, "mapping keys must be plain scalars")
                    continue
                if key in result and index < merged_count:
                    pass  # two merge sources with the same key: the later entry wins, as in PyYAML
                elif key in result:
                    first = self.keys.get(path + (key,), (0, 0))
                    self._error(
                        key_node,
                        codes.DF104,
                        f"duplicate key '{key}'",
                        f"'{key}' is already defined at line {first[0]}; YAML would silently keep only the last one",
                    )
                    continue
                self.keys[path + (key,)] = (
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
                result[key] = self.walk(value_node, path + (key,), depth + 1)
            self.values.pop(path + ("<key>",), None)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(child, path + (i,), depth + 1) for i, child in enumerate(node.value)]
        try:
            value = self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            # e.g. "2024-02-30" looks like a date to YAML and then fails to become one
            self._error(
                node,
                codes.DF100,
                f"cannot read value '{node.value}': {getattr(exc, 'problem', None) or exc}",
                f'quote it: "{node.value}"',
            )
            return None
        if (
            not isinstance(value, str) and isinstance(node, yaml.ScalarNode) and not node.style
        ):  # plain ("" in the C loader)
            self.raw[path] = node.value
        return value


class _BudgetExceeded(Exception):
    def __init__(self, node: yaml.Node | yaml.Event, nested: bool = False):
        self.node = node
        self.nested = nested


def _prescan(text: str) -> tuple[yaml.Event, bool] | None:
    """Walk the parser's events once and stop at the first sign of an oversized document.

    PyYAML's C composer recurses once per nesting level (100,000 nested ``[`` crash the
    interpreter with a segmentation fault) and libyaml's scanner slows down quadratically with
    flow nesting, so depth and size are bounded here, on the flat event stream, *before* any
    node graph is composed.  Costs about half a composition for a normal protocol.
    """
    loader = _Loader(text)
    try:
        depth = 0
        count = 0
        while True:
            event = loader.get_event()
            if event is None or isinstance(event, yaml.StreamEndEvent):
                return None
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    return (event, True)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif not isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
                continue
            count += 1
            if count > MAX_NODES:
                return (event, False)
    finally:
        loader.dispose()


_DEPTH_MESSAGE = f"document is nested more than {MAX_DEPTH} levels deep"
_DEPTH_HINT = "a protocol needs only a few levels of nesting; check the indentation and brackets"


def _depth_diagnostic(filename: str, line: int, column: int) -> Diagnostic:
    return _error(filename, line, column, codes.DF106, _DEPTH_MESSAGE, _DEPTH_HINT)


def _budget_diagnostic(filename: str, exc: _BudgetExceeded) -> Diagnostic:
    mark = exc.node.start_mark
    if exc.nested:
        message = _DEPTH_MESSAGE
        hint = _DEPTH_HINT
    elif isinstance(exc.node, yaml.Event):
        message = f"document has more than {MAX_NODES:,} values"
        hint = "move large building-block tables into a CSV library (libraries: {name: {csv: file.csv}})"
    else:
        message = f"document expands to more than {MAX_NODES:,} values (aliases nested too deeply?)"
        hint = "protocols do not need nested anchors/aliases; write the values out"
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    return _error(filename, line, column, codes.DF106, message, hint)


def _syntax_diagnostic(filename: str, text: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    problem = exc.problem or str(exc)
    if "maximum nesting depth" in problem:
        # libyaml (PyYAML >= 6.0.4) refuses documents nested 1000 deep while scanning ahead,
        # before the pre-scan above sees the 101st level: the same limit, found by another
        # layer, so the same diagnostic.
        return _depth_diagnostic(filename, line, column)
    hint = None
    bad_line = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    if "\t" in bad_line[: max(column, 1)]:
        hint = "YAML indentation must use spaces, not tabs"
    elif "mapping values are not allowed" in problem:
        hint = "a value containing ': ' must be quoted"
    elif "found undefined alias" in problem:
        hint = "define the anchor (&name) before using it (*name)"
    elif re.search(r"smiles:\s*[^\s\"']*[\[\]{},]", bad_line):
        # '[Na+]' starts a YAML list and ',' ends a flow-mapping value
        hint = 'quote SMILES: smiles: "[Na+].[H-]"'
    return _error(filename, line, column, codes.DF100, f"YAML syntax error: {problem}", hint)


def _control_character_diagnostic(
    filename: str, text: str, exc: yaml.reader.ReaderError
) -> Diagnostic:
    # e.g. a NUL or other control character: report where it is, not just the byte offset
    # libyaml counts the position in bytes of UTF-8, the pure-Python reader in characters
    before = (
        text.encode("utf-8")[: exc.position].decode("utf-8", "ignore")
        if _Loader is not yaml.SafeLoader
        else text[: exc.position]
    )
    line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
    code = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or b"\0")
    return _error(
        filename,
        line,
        column,
        codes.DF100,
        f"YAML error: control character {code:#06x} is not allowed in a protocol",
        "remove it (was the file saved as text?)",
    )


def load_yaml(text: str | bytes, filename: str) -> SourceDocument:
    """Parse one YAML document, keeping positions; raise :class:`YamlSourceError` if unusable."""
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > MAX_FILE_BYTES:
        raise YamlSourceError(
            [
                _error(
                    filename,
                    0,
                    0,
                    codes.DF106,
                    f"file is {size / 1024 / 1024:.1f} MiB; protocols are limited to {MAX_FILE_BYTES // 1024 // 1024} MiB",
                    "move large building-block tables into a CSV library (libraries: {name: {csv: file.csv}})",
                )
            ]
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlSourceError(
                [
                    _error(
                        filename,
                        0,
                        0,
                        codes.DF100,
                        f"file is not UTF-8 text ({exc.reason} at byte {exc.start})",
                        "save the file as UTF-8",
                    )
                ]
            ) from None
    try:
        too_big = _prescan(text)
        if too_big is not None:
            raise _BudgetExceeded(*too_big)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except _BudgetExceeded as exc:
        raise YamlSourceError([_budget_diagnostic(filename, exc)]) from None
    except yaml.MarkedYAMLError as exc:
        raise YamlSourceError([_syntax_diagnostic(filename, text, exc)]) from None
    except yaml.reader.ReaderError as exc:
        raise YamlSourceError([_control_character_diagnostic(filename, text, exc)]) from None
    except yaml.YAMLError as exc:
        raise YamlSourceError([_error(filename, 0, 0, codes.DF100, f"YAML error: {exc}")]) from None
    if root is None:
        return SourceDocument(filename, None, {}, {})
    walker = _Walker(filename)
    try:
        data = walker.walk(root, ())
    except _BudgetExceeded as exc:
        raise YamlSourceError([_budget_diagnostic(filename, exc)]) from None
    if walker.errors:
        raise YamlSourceError(walker.errors)
    return SourceDocument(filename, data, walker.keys, walker.values, walker.raw)


def open_regular_file(path: str) -> BinaryIO:
    """Open an input for reading, refusing anything but a regular file before reading a byte: a
    FIFO would block the read forever, a device (``/dev/zero``) never ends.  The refusal is an
    ``OSError`` whose ``strerror`` says why."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(
                errno.EINVAL, "not a regular file (a FIFO, device, socket or directory)", path
            )
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@dataclass(frozen=True)
class Unreadable:
    """The file cannot be opened or read; ``reason`` is the OS's words."""

    reason: str


@dataclass(frozen=True)
class TooLarge:
    limit_bytes: int


@dataclass(frozen=True)
class NotUtf8:
    """Not UTF-8 text: the first bad byte is on ``line``."""

    line: int
    reason: str
    byte: int


@dataclass(frozen=True)
class HasNul:
    """Binary, not text: the first NUL character is on ``line``."""

    line: int


TextProblem = Unreadable | TooLarge | NotUtf8 | HasNul


def read_text_file(path: str, limit_bytes: int) -> str | TextProblem:
    """A CSV-like input as text, or what is wrong with it, for the caller to report with its own
    code and words: a regular file (:func:`open_regular_file`), at most ``limit_bytes``, UTF-8
    with or without the byte-order mark Excel and pandas (``encoding='utf-8-sig'``) write, and
    no NUL characters."""
    try:
        with open_regular_file(path) as fh:
            raw = fh.read(limit_bytes + 1)
    except OSError as exc:
        return Unreadable(str(exc.strerror or exc))
    if len(raw) > limit_bytes:
        return TooLarge(limit_bytes)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return NotUtf8(raw[: exc.start].count(b"\n") + 1, exc.reason, exc.start)
    if "\x00" in text:
        return HasNul(text[: text.index("\x00")].count("\n") + 1)
    return text


def load_yaml_file(path: str, display_name: str | None = None) -> SourceDocument:
    """Read and parse a file; unreadable files become a DF100 diagnostic, never a traceback."""
    name = display_name or path
    try:
        with open_regular_file(path) as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise YamlSourceError(
            [
                _error(
                    name,
                    0,
                    0,
                    codes.DF100,
                    f"cannot read file: {exc.strerror or exc}",
                    "check the path",
                )
            ]
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise YamlSourceError(
            [
                _error(
                    name,
                    0,
                    0,
                    codes.DF106,
                    f"file is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB",
                    "move large building-block tables into a CSV library",
                )
            ]
        )
    return load_yaml(raw, name)
