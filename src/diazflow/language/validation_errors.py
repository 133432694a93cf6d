"""Shared pieces for turning pydantic validation errors into positioned diagnostics.

Both the protocol loader and the deck-layout loader validate YAML with pydantic; both map an
error's ``loc`` back to the YAML position and describe the offending value the same way.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from diazflow.language.source import SourceDocument

TYPE_WORDS = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "an integer",
    "float_type": "a number",
    "dict_type": "a mapping",
    "list_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "tuple_type": "a list",
}
"""pydantic error types for a wrong type → what the field wanted, in words."""


def source_path(source: SourceDocument, loc: Iterable[Any]) -> tuple:
    """The deepest prefix of a pydantic ``loc`` that exists in the YAML (skips union/tag labels)."""
    path: tuple = ()
    for part in loc:
        candidate = path + (part,)
        if candidate in source.value_positions or candidate in source.key_positions:
            path = candidate
    return path


def describe_value(value: Any) -> str:
    """A value as a chemist would read it in a message: 'the boolean false', 'a list'..."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"the date {value.isoformat()}"
    return repr(value)
