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

from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from diazflow.diagnostics import Diagnostic, Severity

try:  # the C composer is ~10x faster; fall back quietly where libyaml is missing
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Loader = yaml.SafeLoader

MAX_FILE_BYTES = 2 * 1024 * 1024
"""Protocols are hand-written; anything larger is a mistake or an attack."""

MAX_NODES = 50_000
"""Budget for nodes visited, aliases included, which bounds alias expansion ("billion laughs")."""

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
        code: str,
        message: str,
        hint: str | None = None,
        *,
        severity: Severity = Severity.ERROR,
        key: bool = False,
    ) -> Diagnostic:
        line, column = self.position(path, key=key)
        return Diagnostic(self.filename, line, column, code, severity, message, hint)


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
        self.errors: list[Diagnostic] = []
        self.visited = 0
        self._constructor = yaml.constructor.SafeConstructor()

    def _error(self, node: yaml.Node, code: str, message: str, hint: str | None = None) -> None:
        mark = node.start_mark
        self.errors.append(
            Diagnostic(self.filename, mark.line + 1, mark.column + 1, code, Severity.ERROR, message, hint)
        )

    def walk(self, node: yaml.Node, path: Path, depth: int = 0) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise _BudgetExceeded(node)
        if depth > 100:
            raise _BudgetExceeded(node)
        self.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if node.tag not in _PLAIN_TAGS:
            self._error(
                node,
                "DF105",
                f"YAML tag '{node.tag}' is not allowed in a protocol",
                "remove the tag; protocols hold plain values only (nothing is ever executed)",
            )
            return None
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            # merge keys ("<<") are expanded by flatten_mapping, as safe_load would do
            self._constructor.flatten_mapping(node)
            for key_node, value_node in node.value:
                key = self.walk(key_node, path + ("<key>",), depth + 1)
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    self._error(key_node, "DF103", "mapping keys must be plain scalars")
                    continue
                if key in result:
                    first = self.keys.get(path + (key,), (0, 0))
                    self._error(
                        key_node,
                        "DF104",
                        f"duplicate key '{key}'",
                        f"'{key}' is already defined at line {first[0]}; YAML would silently keep only the last one",
                    )
                    continue
                self.keys[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                result[key] = self.walk(value_node, path + (key,), depth + 1)
            self.values.pop(path + ("<key>",), None)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(child, path + (i,), depth + 1) for i, child in enumerate(node.value)]
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self._error(node, "DF100", f"cannot read value: {getattr(exc, 'problem', exc)}")
            return None


class _BudgetExceeded(Exception):
    def __init__(self, node: yaml.Node):
        self.node = node


def load_yaml(text: str | bytes, filename: str) -> SourceDocument:
    """Parse one YAML document, keeping positions; raise :class:`YamlSourceError` if unusable."""
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > MAX_FILE_BYTES:
        raise YamlSourceError(
            [
                Diagnostic(
                    filename,
                    0,
                    0,
                    "DF106",
                    Severity.ERROR,
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
                [Diagnostic(filename, 0, 0, "DF100", Severity.ERROR, f"file is not UTF-8 text ({exc.reason} at byte {exc.start})", "save the file as UTF-8")]
            ) from None
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = exc.problem or str(exc)
        hint = None
        bad_line = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
        if "\t" in bad_line[: max(column, 1)]:
            hint = "YAML indentation must use spaces, not tabs"
        elif "mapping values are not allowed" in problem:
            hint = "a value containing ': ' must be quoted"
        elif "found undefined alias" in problem:
            hint = "define the anchor (&name) before using it (*name)"
        raise YamlSourceError([Diagnostic(filename, line, column, "DF100", Severity.ERROR, f"YAML syntax error: {problem}", hint)]) from None
    except yaml.YAMLError as exc:
        raise YamlSourceError([Diagnostic(filename, 0, 0, "DF100", Severity.ERROR, f"YAML error: {exc}")]) from None
    if root is None:
        return SourceDocument(filename, None, {}, {})
    walker = _Walker(filename)
    try:
        data = walker.walk(root, ())
    except _BudgetExceeded as exc:
        mark = exc.node.start_mark
        raise YamlSourceError(
            [
                Diagnostic(
                    filename,
                    mark.line + 1,
                    mark.column + 1,
                    "DF106",
                    Severity.ERROR,
                    f"document expands to more than {MAX_NODES:,} values (aliases nested too deeply)",
                    "protocols do not need nested anchors/aliases; write the values out",
                )
            ]
        ) from None
    if walker.errors:
        raise YamlSourceError(walker.errors)
    return SourceDocument(filename, data, walker.keys, walker.values)


def load_yaml_file(path: str, display_name: str | None = None) -> SourceDocument:
    """Read and parse a file; unreadable files become a DF100 diagnostic, never a traceback."""
    name = display_name or path
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise YamlSourceError(
            [Diagnostic(name, 0, 0, "DF100", Severity.ERROR, f"cannot read file: {exc.strerror or exc}", "check the path")]
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise YamlSourceError(
            [
                Diagnostic(
                    name,
                    0,
                    0,
                    "DF106",
                    Severity.ERROR,
                    f"file is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB",
                    "move large building-block tables into a CSV library",
                )
            ]
        )
    return load_yaml(raw, name)
