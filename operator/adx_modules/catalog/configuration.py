"""A module's configSchema and an installation's configuration, checked like the apiserver would.

Why it exists: the apiserver cannot validate ``configuration`` against a schema that lives in
another object (the Module), so the operator does, with JSON Schema draft 2020-12, and reports
every problem with the path a user can find in their YAML (``spec.configuration.retries``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, SchemaError
from jsonschema.exceptions import ValidationError

MAX_REPORTED = 10


def _path(prefix: str, parts: Any) -> str:
    path = prefix
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def schema_problems(schema: Mapping[str, Any] | None) -> list[str]:
    """Why ``schema`` is not a valid JSON Schema (empty when it is, or when there is none)."""
    if schema is None:
        return []
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        return [f"{_path('spec.configSchema', error.absolute_path)}: {error.message}"]
    return []


def configuration_problems(
    schema: Mapping[str, Any] | None, configuration: Mapping[str, Any] | None
) -> list[str]:
    """Why ``configuration`` does not satisfy ``schema``; at most ``MAX_REPORTED`` lines."""
    return value_problems(schema, configuration or {}, "spec.configuration")


def value_problems(schema: Mapping[str, Any] | None, value: Any, where: str) -> list[str]:
    """Why ``value`` does not satisfy ``schema``, each line starting with the path under
    ``where``; at most ``MAX_REPORTED`` lines."""
    if schema is None:
        return []
    validator = Draft202012Validator(schema)
    errors: list[ValidationError] = sorted(
        validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path]
    )
    lines = [f"{_path(where, e.absolute_path)}: {e.message}" for e in errors]
    if len(lines) > MAX_REPORTED:
        lines = [*lines[:MAX_REPORTED], f"... and {len(lines) - MAX_REPORTED} more"]
    return lines


def secret_keys(schema: Mapping[str, Any] | None) -> set[str]:
    """Top-level configuration properties the module's schema marks ``writeOnly``: secrets,
    which live in the tenant's own Secret (spec.configurationSecretRef), never in the spec."""
    properties = (schema or {}).get("properties", {})
    return {
        key
        for key, prop in properties.items()
        if isinstance(prop, dict) and prop.get("writeOnly") is True
    }


def configuration_hash(configuration: Mapping[str, Any] | None) -> str:
    """SHA-256 of the configuration in canonical JSON (what a revision ran with)."""
    canonical = json.dumps(configuration or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
