"""JSON Schema of the protocol language, generated from the pydantic models (never hand-written)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from diazflow.language.design import NOT_A_FACTOR
from diazflow.language.models import LANGUAGE_VERSION, STEP_MODELS, Protocol

SCHEMA_ID = "https://diazflow.dev/schema/protocol-v1.json"


def protocol_json_schema() -> dict[str, Any]:
    schema = Protocol.model_json_schema(mode="validation")
    _clean_titles(schema)
    _allow_factors(schema)
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


FACTOR_REF = {
    "type": "object",
    "properties": {
        "factor": {
            "type": "string",
            "pattern": r"^[A-Za-z_][A-Za-z0-9_\-]*$",
            "description": "a factor of the protocol's design",
        }
    },
    "required": ["factor"],
    "additionalProperties": False,
    "description": "this field's value in each well is its level of the design's factor "
    '(docs/language.md "Designs")',
}


def _step_parameter_models() -> set[str]:
    """The schema names of the step parameter models whose fields a factor may fill."""
    names: set[str] = set()
    for step_model in STEP_MODELS.values():
        annotation = next(iter(step_model.model_fields.values())).annotation
        for candidate in getattr(annotation, "__args__", (annotation,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                names.add(candidate.__name__)
    return names - {"StageParams", "PlaceParams"}


def _allow_factors(schema: dict[str, Any]) -> None:
    """A step field may be written ``{factor: NAME}`` (expanded by the loader before the models
    see it, so the models never hold one): each such property also accepts a factor reference."""
    definitions = schema["$defs"]
    definitions["FactorRef"] = FACTOR_REF
    for name in sorted(_step_parameter_models() & set(definitions)):
        properties = definitions[name].get("properties", {})
        for field, prop in list(properties.items()):
            if field in NOT_A_FACTOR:
                continue
            kept = {k: prop.pop(k) for k in ("description", "default", "examples") if k in prop}
            properties[field] = {**kept, "anyOf": [prop, {"$ref": "#/$defs/FactorRef"}]}
