"""JSON Schema of the protocol language, generated from the pydantic models (never hand-written)."""

from __future__ import annotations

from typing import Any

from diazflow.language.models import LANGUAGE_VERSION, Protocol

SCHEMA_ID = "https://diazflow.dev/schema/protocol-v1.json"


def protocol_json_schema() -> dict[str, Any]:
    schema = Protocol.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = f"diazflow protocol, language version {LANGUAGE_VERSION}"
    return schema
