"""A module's ``manifest.json``: read, checked with the service's own models, and linted.

Why it exists: an author should learn that a manifest is wrong on their machine, from the same
rules the cluster applies (the Module schema's pydantic models, the permission grammar, the
configuration schema), not from a Rejected Module after publishing. The manifest is a Module
spec without ``artifact``: ``adx-module-cli publish`` fills that in with the pushed digest.
Lint findings are advice (wildcards, over-broad targets, no resource limits); ``--strict``
makes them errors.
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


BROAD_TARGETS = {
    "database": ("*",),
    "network": ("*", "0.0.0.0/0", "::/0"),
    "secret": ("*",),
    "storage": ("*", "/"),
    "workflow": ("*",),
    "api": ("*", "/"),
    "event": ("*",),
}
SENSITIVE_PATHS = ("/", "/etc", "/proc", "/sys", "/dev", "/var/run", "/root", "/home")


def lint(manifest: ModuleManifest) -> list[Lint]:
    """Advice a reviewer would give: each permission as narrow as it can be, limits set."""
    found: list[Lint] = []
    for index, permission in enumerate(manifest.permissions):
        field = f"manifest.permissions[{index}]"
        resource, action, target = permission.split(":", 2)
        if resource == "file":
            path = target.rstrip("/") or "/"
            if path in SENSITIVE_PATHS or any(
                path.startswith(f"{p}/") for p in SENSITIVE_PATHS[1:]
            ):
                found.append(
                    Lint(
                        field,
                        f"{permission!r} reaches a system path; use a path of "
                        "the module's own (e.g. /tmp/<module>)",
                    )
                )
            elif "*" in target:
                found.append(Lint(field, f"{permission!r} uses a wildcard; name the path"))
        elif target in BROAD_TARGETS.get(resource, ()):
            found.append(
                Lint(
                    field,
                    f"{permission!r} grants every {resource} target; name the ones the module uses",
                )
            )
        elif "*" in target:
            found.append(
                Lint(
                    field,
                    f"{permission!r} uses a wildcard; tenants approve each "
                    "permission, so name what the module needs",
                )
            )
        if resource == "database" and action == "admin":
            found.append(
                Lint(field, f"{permission!r} asks for admin; read or write is usually enough")
            )
    if manifest.runtime != "container" and (
        manifest.resources is None or manifest.resources.limits is None
    ):
        found.append(
            Lint(
                "manifest.resources.limits",
                "not set: the sandbox's defaults apply; "
                "declare the CPU and memory the module may use",
            )
        )
    return found
