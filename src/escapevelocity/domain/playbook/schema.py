"""The playbook format as JSON Schema (playbooks/schema.json is this, checked by a test)."""

from __future__ import annotations

from typing import Any

import msgspec

from escapevelocity.domain.playbook.compiler import CONDITIONS, condition_docs
from escapevelocity.domain.playbook.spec import (
    AUTHOR_CLASSES,
    LEVELS,
    SENTIMENTS,
    SITUATIONS,
    PlaybookSpec,
)
from escapevelocity.domain.playbook.time_conditions import DAYS

_NAMES = {"type": "array", "items": {"type": "string"}, "minItems": 1}


def _condition_schema(name: str) -> dict[str, Any]:
    one_or_many = {"anyOf": [{"type": "string"}, _NAMES]}
    enums = {"situation": SITUATIONS, "primary_situation": SITUATIONS, "sentiment": SENTIMENTS,
             "author_class": AUTHOR_CLASSES, "crisis_level": LEVELS, "weekday": DAYS}
    if name in enums:
        values = list(enums[name])
        return {"anyOf": [{"enum": values}, {"type": "array", "items": {"enum": values},
                                             "minItems": 1}]}
    if name in ("all", "any"):
        return {"type": "array", "items": {"$ref": "#/$defs/Condition"}, "minItems": 1}
    if name == "not":
        return {"$ref": "#/$defs/Condition"}
    if name.endswith(("_at_least", "_at_most", "_below", "_above")):
        return {"type": "number"}
    if name.endswith("_between"):
        return {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
    if name in ("verified", "known_customer", "vip"):
        return {"type": "boolean"}
    if name in ("pii",):
        return {"anyOf": [{"type": "boolean"}, {"type": "string"}, _NAMES]}
    if name in ("business_hours", "holiday"):
        return {"anyOf": [{"type": "boolean"}, {"type": "string"}]}
    if name == "repeat_author":
        return {"anyOf": [{"type": "boolean"}, {"type": "number"}]}
    return one_or_many


def json_schema() -> dict[str, Any]:
    """The playbook format as JSON Schema, from the msgspec specs plus the condition catalogue."""
    schema = msgspec.json.schema(PlaybookSpec)
    docs = condition_docs()
    schema["$defs"]["Condition"] = {
        "title": "Condition",
        "description": "Conditions in one mapping are ANDed; all/any/not combine them.",
        "type": "object",
        "properties": {name: {**_condition_schema(name), "description": docs[name]}
                       for name in CONDITIONS},
        "additionalProperties": False,
    }
    for spec in ("RuleSpec", "SpokeOverride"):
        schema["$defs"][spec]["properties"]["when"] = {"$ref": "#/$defs/Condition",
                                                       "default": {}}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Escape Velocity playbook"
    return schema


def json_schema_text() -> str:
    import json

    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
