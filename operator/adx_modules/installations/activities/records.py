"""The lifecycle's records in PostgreSQL: the installation, its revisions, the audit trail.

Why it exists: the CR status shows the present; PostgreSQL keeps the history (every revision,
for rollback; every step, for audit; backups taken on uninstall). Writes are idempotent, so a
retried activity records nothing twice.
"""

from __future__ import annotations

from temporalio import activity

from adx_modules.catalog.configuration import configuration_hash
from adx_modules.clients.postgres import RevisionRecord, Store
from adx_modules.core.refs import InstallationRef
from adx_modules.installations.contract import (
    Action,
    Activities,
    AuditEntry,
    BackupRequest,
    InstallationRecord,
    RevisionInfo,
)


async def write_record(store: Store, record: InstallationRecord) -> None:
    """Upsert the installation; with a revision, also record that revision."""
    ref = record.ref
    await store.upsert_installation(
        uid=ref.uid,
        namespace=ref.namespace,
        name=ref.name,
        module_id=record.module_id,
        phase=record.phase,
        version=record.version,
        isolation=record.isolation,
        revision=record.revision,
        configuration=record.configuration,
    )
    if record.revision and record.version is not None:
        configuration = record.configuration or {}
        await store.record_revision(
            ref.uid,
            RevisionRecord(
                revision=record.revision,
                version=record.version,
                configuration=configuration,
                configuration_hash=configuration_hash(configuration),
                workflow_id=record.workflow_id,
            ),
        )


async def write_audit(
    store: Store,
    ref: InstallationRef,
    *,
    workflow_id: str,
    action: Action,
    actor: str,
    entries: list[AuditEntry],
) -> None:
    for entry in entries:
        await store.audit(
            uid=ref.uid,
            namespace=ref.namespace,
            name=ref.name,
            workflow_id=workflow_id,
            action=action,
            step=entry.step,
            outcome=entry.outcome,
            actor=actor,
            detail=entry.detail[:4000],
        )


class RecordActivities:
    """Reads the lifecycle tables; takes backups."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn(name=Activities.LAST_REVISION)
    async def last_revision(self, ref: InstallationRef) -> RevisionInfo | None:
        """The revision that runs (the installation's active one), if any."""
        row = await self._store.installation(ref.uid)
        if not row or not row["revision"]:
            return None
        for revision in await self._store.revisions(ref.uid):
            if revision.revision == row["revision"]:
                return RevisionInfo(
                    revision=revision.revision,
                    version=revision.version,
                    configuration=revision.configuration,
                )
        return None

    @activity.defn(name=Activities.BACKUP)
    async def backup(self, request: BackupRequest) -> None:
        """Keep the installation's configuration, revision history and the module's own data
        past its uninstall."""
        ref = request.ref
        row = await self._store.installation(ref.uid) or {}
        revisions = await self._store.revisions(ref.uid)
        await self._store.backup(
            workflow_id=request.workflow_id,
            uid=ref.uid,
            namespace=ref.namespace,
            name=ref.name,
            contents={
                "moduleId": row.get("module_id"),
                "version": row.get("version"),
                "configuration": row.get("configuration") or {},
                "revisions": [
                    {"revision": r.revision, "version": r.version, "configuration": r.configuration}
                    for r in revisions
                ],
                # the module's own data (sdk.storage, adx.storage_*, config.set), which the
                # sandbox's removal deletes next
                "moduleData": await self._store.module_data(ref.uid),
            },
        )
