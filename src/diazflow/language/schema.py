"""JSON Schema of the protocol language, generated from the pydantic models (never hand-written)."""

from __future__ import annotations

from typing import Any

from diazflow.language.models import LANGUAGE_VERSION, Protocol

SCHEMA_ID = "https://diazflow.dev/schema/protocol-v1.json"


def protocol_json_schema() -> dict[str, Any]:
    schema = Protocol.model_json_schema(mode="validation")
    _clean_titles(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = f"diazflow protocol, language version {LANGUAGE_VERSION}"
    return schema


def _clean_titles(schema: dict[str, Any]) -> None:
    """Titles an editor shows as completion labels: a step is its key (``add``, not ``AddStep``);
    pydantic's titles of parameter models (``AddParams``) and of every property (``Reagent``,
    ``Equiv``: the key again, capitalised) are dropped, their descriptions stay."""
    for name, definition in schema.get("$defs", {}).items():
        required = definition.get("required", [])
        if name.endswith("Step") and len(required) == 1:
            definition["title"] = required[0]
        elif name.endswith("Params"):
            definition.pop("title", None)
    _drop_property_titles(schema)


def _drop_property_titles(node: Any) -> None:
    if isinstance(node, dict):
        for prop in node.get("properties", {}).values():
            if isinstance(prop, dict):
                prop.pop("title", None)
        for value in node.values():
            _drop_property_titles(value)
    elif isinstance(node, list):
        for value in node:
            _drop_property_titles(value)
