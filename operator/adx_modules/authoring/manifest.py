"""A module's ``manifest.json``: read, checked with the service's own models, and linted.

Why it exists: an author should learn that a manifest is wrong on their machine, from the same
rules the cluster applies (the Module schema's pydantic models, the permission grammar, the
configuration schema), not from a Rejected Module after publishing. The manifest is a Module
spec without ``artifact``: ``adx-module-cli publish`` fills that in with the pushed digest.
Lint findings are advice (wildcards, over-broad targets, no resource limits), the same findings
the service's scan holds against the module; ``--strict`` makes them errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from adx_modules.api.module import Artifact, ModuleSpec
from adx_modules.authoring.errors import InputError
from adx_modules.catalog.configuration import schema_problems
from adx_modules.catalog.model import describe_validation_error
from adx_modules.catalog.scanning.manifest import analyze

MANIFEST = "manifest.json"


class ModuleManifest(ModuleSpec):
    """What an author writes: a Module spec whose artifact is filled in at publish time."""

    artifact: Artifact | None = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Lint:
    """One piece of advice about a manifest: the field and what to do."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest's JSON object, or an InputError naming the file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror})") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise InputError(f"{path}: a manifest is a JSON object (the Module spec's fields)")
    return document


def load_manifest(path: Path) -> ModuleManifest:
    """The manifest checked against the Module schema and its configSchema checked as a JSON
    Schema; an InputError names the file and the field."""
    document = read_manifest(path)
    try:
        manifest = ModuleManifest.model_validate(document)
    except ValidationError as error:
        raise InputError(f"{path}: {describe_validation_error(error, 'manifest')}") from None
    problems = schema_problems(manifest.config_schema)
    if problems:
        detail = "; ".join(problem.replace("spec.", "manifest.", 1) for problem in problems)
        raise InputError(f"{path}: {detail}")
    return manifest


def lint(manifest: ModuleManifest) -> list[Lint]:
    """Advice a reviewer would give (the scan's manifest analysis, which lowers the score)."""
    return [Lint(finding.location, finding.message) for finding in analyze(manifest)]
