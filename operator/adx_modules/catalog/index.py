"""The operator's in-memory catalog: every Module as a parsed entry, kept current from the watch.

Why it exists: every handler asks the catalog (does a module exist, which versions are
Available), and Modules are many and immutable. The catalog is loaded with one LIST when the
operator starts (so no installation is judged against half a catalog) and then follows the
Module watch; an entry's spec is parsed once per Module (by uid) and only its status is read
again. Asking costs what one module's versions cost, never the whole catalog.

Kopf's own indexes are not used for this: before any handler runs, Kopf waits until every
object of an indexed kind is indexed, through a readiness set whose every change wakes every
waiting object, which is quadratic in the number of objects (10,000 CRs kept a core busy for
minutes before the first handler ran).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import kopf

from adx_modules.catalog.model import Catalog, CatalogEntry, ParsedSpec

MEMO_KEY = "catalog"


class ModuleCatalog:
    """The published Modules by module id, each parsed once."""

    def __init__(self) -> None:
        self._parsed: dict[str, ParsedSpec] = {}
        self._by_module: dict[str, list[CatalogEntry]] = {}
        self._listed: set[str] = set()  # uids loaded at start-up
        self._phases: dict[tuple[str, str], str] = {}  # (watcher, uid) -> last phase seen
        self._versions: dict[str, str] = {}  # uid -> resourceVersion taken in

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._by_module.values())

    def load(self, bodies: Iterable[Mapping[str, Any]]) -> None:
        """Take in every Module listed at start-up."""
        for body in bodies:
            self.observe(None, body)
            self._listed.add(str(body.get("metadata", {}).get("uid", "")))

    def changed(self, watcher: str, event_type: str | None, body: Mapping[str, Any]) -> bool:
        """Apply a watch event and say whether ``watcher`` must revisit what depends on this
        Module: it was deleted, it appeared after start-up, or its phase changed. A Module the
        start-up LIST already held is not news (its dependents resume by themselves then)."""
        self.observe(event_type, body)
        uid = str(body.get("metadata", {}).get("uid", ""))
        key = (watcher, uid)
        if event_type == "DELETED":
            self._phases.pop(key, None)
            self._listed.discard(uid)
            return True
        phase = str((body.get("status") or {}).get("phase") or "")
        if self._phases.get(key) == phase:
            return False
        first = key not in self._phases
        self._phases[key] = phase
        return not (first and event_type is None and uid in self._listed)

    def observe(self, event_type: str | None, body: Mapping[str, Any]) -> bool:
        """Apply one watch event (type None: listed); True when the catalog gained or lost a
        Module it did not know, False when a known Module's status changed (or nothing)."""
        metadata = body.get("metadata", {})
        uid = str(metadata.get("uid", ""))
        version = str(metadata.get("resourceVersion", ""))
        if event_type != "DELETED" and version and self._versions.get(uid) == version:
            return False  # this very state is in already (every watcher passes each event)
        module_id = str((body.get("spec") or {}).get("moduleId", ""))
        entries = self._by_module.setdefault(module_id, [])
        known = next((i for i, e in enumerate(entries) if e.uid == uid), None)
        if event_type == "DELETED":
            self._parsed.pop(uid, None)
            self._versions.pop(uid, None)
            if known is not None:
                del entries[known]
            if not entries:
                self._by_module.pop(module_id, None)
            return known is not None
        entry = CatalogEntry.from_object(body, self._parsed)
        self._versions[uid] = version
        if known is None:
            entries.append(entry)
            return True
        entries[known] = entry
        return False

    def versions(self, module_id: str) -> list[CatalogEntry]:
        return list(self._by_module.get(module_id, ()))

    def catalog(self) -> Catalog:
        """The catalog as it is now: a view, nothing is copied or parsed."""
        return Catalog.view(self._by_module)


def module_catalog(memo: kopf.Memo) -> ModuleCatalog:
    """The operator's catalog: one per operator, put into the operator's memo at start-up
    (each object's memo is a shallow copy of it, so all share this one)."""
    return cast(ModuleCatalog, memo[MEMO_KEY])


def catalog_from(memo: kopf.Memo) -> Catalog:
    return module_catalog(memo).catalog()
