"""The catalog: every published Module version, by module id. Pure, no I/O.

Why it exists: the operator validates installations and listings against what is published
(does the module exist, which versions are Available, what does the chosen one declare), and
the lifecycle workflow resolves versions the same way. The operator's catalog is a *view* over
its watch index, whose entries are parsed once per Module (specs are immutable), so asking it
costs what one module's versions cost, never the whole catalog; the workflow builds one from
the Modules it lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from adx_modules.api.module import ModuleSpec
from adx_modules.catalog.resolver.constraints import Constraint, parse_version


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
    uid: str = ""
    digest: str | None = None
    scanned_reference: str | None = None

    @property
    def available(self) -> bool:
        return self.phase == "Available" and self.spec is not None

    def pinned_spec(self) -> ModuleSpec | None:
        """The spec with its artifact pinned to what was scanned (an OCI reference by digest,
        a URL or ConfigMap by its SHA-256): what runs is what was scanned. Unscanned: as is."""
        spec, digest, reference = self.spec, self.digest, self.scanned_reference
        if spec is None or not digest or not reference:
            return spec
        artifact = spec.artifact
        if artifact.image is not None:
            source: Any = artifact.image.model_copy(update={"reference": reference})
            pinned = artifact.model_copy(update={"image": source})
        else:
            field = "wasm" if artifact.wasm is not None else "package"
            current: Any = getattr(artifact, field)
            change = {"oci": reference} if current.oci else {"sha256": digest.split(":")[-1]}
            pinned = artifact.model_copy(update={field: current.model_copy(update=change)})
        return spec.model_copy(update={"artifact": pinned})

    @classmethod
    def from_object(
        cls, body: Mapping[str, Any], parsed: MutableMapping[str, ParsedSpec] | None = None
    ) -> CatalogEntry:
        """From a Module as the apiserver returns it. With ``parsed`` (specs by uid), a spec is
        parsed once per Module: specs are immutable once published, statuses are not."""
        metadata = body.get("metadata", {})
        raw_spec = body.get("spec") or {}
        uid = str(metadata.get("uid", ""))
        known = parsed.get(uid) if parsed is not None and uid else None
        if known is None:
            known = parse_spec(raw_spec)
            if parsed is not None and uid:
                parsed[uid] = known
        spec, error = known
        status = body.get("status") or {}
        score = status.get("securityScore")
        return cls(
            uid=uid,
            digest=status.get("digest"),
            scanned_reference=status.get("scannedReference"),
            security_score=score if isinstance(score, int) else None,
            name=metadata.get("name", ""),
            module_id=str(raw_spec.get("moduleId", "")),
            version=str(raw_spec.get("version", "")),
            phase=(body.get("status") or {}).get("phase"),
            created=str(metadata.get("creationTimestamp", "")),
            spec=spec,
            spec_error=error,
        )


ParsedSpec = tuple[ModuleSpec | None, str | None]
"""A Module's spec as parsed (None if invalid) and why it is invalid."""


def parse_spec(raw_spec: Mapping[str, Any]) -> ParsedSpec:
    """The spec of a Module, or the reason it does not parse (naming the field)."""
    try:
        return ModuleSpec.model_validate(raw_spec), None
    except ValidationError as failure:
        return None, describe_validation_error(failure, "spec")


def describe_validation_error(error: ValidationError, prefix: str) -> str:
    """pydantic's errors as ``spec.field[0].sub: message`` lines, camelCase as on the wire."""
    lines = []
    for item in error.errors():
        path = prefix
        for part in item["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        lines.append(f"{path}: {item['msg']}")
    return "; ".join(lines)


JUDGED = ("Available", "Rejected")  # phases the operator's judgement ends in


class Catalog:
    """The published Module versions, by module id."""

    def __init__(self, entries: Iterable[CatalogEntry]) -> None:
        grouped: dict[str, list[CatalogEntry]] = {}
        for entry in entries:
            grouped.setdefault(entry.module_id, []).append(entry)
        self._by_module: Mapping[str, Iterable[CatalogEntry]] = grouped

    @classmethod
    def from_objects(cls, bodies: Iterable[Mapping[str, Any]]) -> Catalog:
        return cls(CatalogEntry.from_object(body) for body in bodies)

    @classmethod
    def view(cls, by_module: Mapping[str, Iterable[CatalogEntry]]) -> Catalog:
        """A catalog over entries kept elsewhere (the operator's index), without copying."""
        catalog = cls(())
        catalog._by_module = by_module
        return catalog

    def knows(self, module_id: str) -> bool:
        return any(True for _ in self._by_module.get(module_id, ()))

    def versions(self, module_id: str) -> list[CatalogEntry]:
        """Every published version of ``module_id``, oldest first (by creation, then name)."""
        return sorted(self._by_module.get(module_id, ()), key=lambda e: (e.created, e.name))

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
        """Every Available version of every module (the resolver's whole catalog)."""
        return [
            e
            for module_id in self._by_module
            for e in self._by_module.get(module_id, ())
            if e.available
        ]

    def _requires(self, module_id: str) -> set[str]:
        """The module ids any version of ``module_id`` names as a dependency."""
        return {
            dependency.module_id
            for entry in self._by_module.get(module_id, ())
            if entry.spec is not None
            for dependency in entry.spec.dependencies
        }

    def pending_dependencies(self, module_id: str) -> list[str]:
        """What in the dependency closure of ``module_id`` may still change: versions the
        operator has not judged yet (neither Available nor Rejected: being scanned, say) and
        modules not published at all; each as a phrase (``charts 3.2.0 (Scanning)``)."""
        seen, todo = {module_id}, [module_id]
        pending: list[str] = []
        while todo:
            for needed in sorted(self._requires(todo.pop()) - seen):
                seen.add(needed)
                todo.append(needed)
                if not self.knows(needed):
                    pending.append(f"{needed} (not published yet)")
                pending += [
                    f"{e.module_id} {e.version} ({e.phase or 'not judged yet'})"
                    for e in self.versions(needed)
                    if e.phase not in JUDGED
                ]
        return pending

    def entry(self, module_id: str, version: str) -> CatalogEntry | None:
        """The first published object of ``module_id`` at ``version``, Available or not."""
        return self.first_published(module_id, version)

    def first_published(self, module_id: str, version: str) -> CatalogEntry | None:
        """The oldest Module object that publishes ``module_id`` at ``version``."""
        same = [e for e in self.versions(module_id) if e.version == version]
        return same[0] if same else None
