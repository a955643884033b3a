"""The catalog: every published Module version, indexed by module id. Pure, no I/O.

Why it exists: the operator validates installations and listings against what is published
(does the module exist, which versions are Available, what does the chosen one declare), and
the lifecycle workflow resolves versions the same way. Both build a :class:`Catalog` from Module
objects (the operator from its watch cache, the workflow from an activity) and ask it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from adx_modules.api.module import ModuleSpec
from adx_modules.resolver.constraints import Constraint, parse_version


@dataclass(frozen=True)
class CatalogEntry:
    """One Module object: its name, its parsed spec (None if unparseable) and its phase."""

    name: str
    module_id: str
    version: str
    phase: str | None
    created: str
    spec: ModuleSpec | None
    spec_error: str | None = None
    security_score: int | None = None

    @property
    def available(self) -> bool:
        return self.phase == "Available" and self.spec is not None

    @classmethod
    def from_object(cls, body: Mapping[str, Any]) -> CatalogEntry:
        """From a Module as the apiserver returns it."""
        metadata = body.get("metadata", {})
        raw_spec = body.get("spec") or {}
        try:
            spec: ModuleSpec | None = ModuleSpec.model_validate(raw_spec)
            error = None
        except ValidationError as failure:
            spec, error = None, describe_validation_error(failure, "spec")
        score = (body.get("status") or {}).get("securityScore")
        return cls(
            security_score=score if isinstance(score, int) else None,
            name=metadata.get("name", ""),
            module_id=str(raw_spec.get("moduleId", "")),
            version=str(raw_spec.get("version", "")),
            phase=(body.get("status") or {}).get("phase"),
            created=str(metadata.get("creationTimestamp", "")),
            spec=spec,
            spec_error=error,
        )


def describe_validation_error(error: ValidationError, prefix: str) -> str:
    """pydantic's errors as ``spec.field[0].sub: message`` lines, camelCase as on the wire."""
    lines = []
    for item in error.errors():
        path = prefix
        for part in item["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        lines.append(f"{path}: {item['msg']}")
    return "; ".join(lines)


class Catalog:
    """The published Module versions, by module id."""

    def __init__(self, entries: Iterable[CatalogEntry]) -> None:
        self._by_module: dict[str, list[CatalogEntry]] = {}
        for entry in entries:
            self._by_module.setdefault(entry.module_id, []).append(entry)

    @classmethod
    def from_objects(cls, bodies: Iterable[Mapping[str, Any]]) -> Catalog:
        return cls(CatalogEntry.from_object(body) for body in bodies)

    def knows(self, module_id: str) -> bool:
        return bool(self._by_module.get(module_id))

    def versions(self, module_id: str) -> list[CatalogEntry]:
        """Every published version of ``module_id``, oldest first (by creation, then name)."""
        return sorted(self._by_module.get(module_id, []), key=lambda e: (e.created, e.name))

    def available(self, module_id: str) -> list[CatalogEntry]:
        """The Available versions, highest first."""
        entries = [e for e in self.versions(module_id) if e.available]
        return sorted(entries, key=lambda e: parse_version(e.version), reverse=True)

    def best_match(self, module_id: str, constraint: Constraint) -> CatalogEntry | None:
        """The highest Available version that ``constraint`` allows."""
        for entry in self.available(module_id):
            if constraint.allows(parse_version(entry.version)):
                return entry
        return None

    def all_available(self) -> list[CatalogEntry]:
        """Every Available version of every module."""
        return [e for entries in self._by_module.values() for e in entries if e.available]

    def entry(self, module_id: str, version: str) -> CatalogEntry | None:
        """The first published object of ``module_id`` at ``version``, Available or not."""
        return self.first_published(module_id, version)

    def first_published(self, module_id: str, version: str) -> CatalogEntry | None:
        """The oldest Module object that publishes ``module_id`` at ``version``."""
        same = [e for e in self.versions(module_id) if e.version == version]
        return same[0] if same else None
