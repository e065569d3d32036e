"""Validating error bodies: problem+json (RFC 9457 + ARCP) against the JSON Schemas in schemas/.

Pure functions over a recorded response; the judges call them.
"""
from __future__ import annotations

import json
from functools import lru_cache

from ..spec.catalogue import SCHEMAS, problem_types

# jsonschema is imported where a schema is first compiled: this plugin is loaded by every pytest
# run in the environment, target or not, and jsonschema imports every format checker it finds
# installed (with rfc3987-syntax, which jsonschema[format-nongpl] brings, about a second: it
# builds a grammar; pyproject.toml asks only for the checkers of the formats our schemas use).

PROBLEM_MEDIA_TYPE = "application/problem+json"


@lru_cache(maxsize=None)
def _registry():
    from referencing import Registry, Resource

    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def _schema_id(name: str) -> str:
    return f"https://arcp-conformance.invalid/schemas/{name}.schema.json"


@lru_cache(maxsize=None)
def validator(name: str):
    """A compiled validator for schemas/<name>.schema.json (format checks on)."""
    import jsonschema

    schema = _registry().contents(_schema_id(name))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=_registry(), format_checker=cls.FORMAT_CHECKER)


@lru_cache(maxsize=None)
def type_validator(slugs: tuple[str, ...]):
    """ARCP problem whose type is one of the catalogue types `slugs` (the expected type for a situation)."""
    import jsonschema

    types = problem_types()
    # The type member alone: the other members are PROBLEM-members' business.
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"type": {"enum": [types[s].uri for s in slugs]}},
        "required": ["type"],
    }
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=_registry(), format_checker=cls.FORMAT_CHECKER)


def schema_errors(name: str, body: object) -> list[str]:
    return [_describe(e) for e in validator(name).iter_errors(body)]


def type_errors(slugs: tuple[str, ...], body: object) -> list[str]:
    return [_describe(e) for e in type_validator(tuple(sorted(slugs))).iter_errors(body)]


def _describe(error) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(body)"
    return f"{where}: {error.message}"


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()
