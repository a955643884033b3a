"""A host of modules (the WASM host, the runner) writes each installation's health into its
ModuleInstallation.

Why it exists: a tenant asks ``kubectl get mi`` how its module does, not the host. Every few
seconds the host judges each installation it serves (the WASM host on its latest calls, the
runner on whether the module's process keeps ending) and, only when the judgement changes, sets
the ``Healthy`` condition on the CR
of the same uid while it is settled (phase Active: a workflow at work writes its own
conditions). It never overrides a ``Healthy=False`` a workflow wrote (a failed health check);
it turns its own ``ModuleFailing`` back to ``True`` when calls succeed again. Writes are rare
(one per change), so a hundred installations cost the apiserver nothing.

Each round also records what every installation uses (calls, CPU or fuel, memory), when it
changed, in PostgreSQL (``module_usage``): what the HTTP API answers for a module's resources.
That is not the apiserver's to carry — it changes on every call.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.api.installation import INSTALLATION
from adx_modules.clients.errors import ClientError, NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.core.refs import HostedInstallation
from adx_modules.core.status import StatusUpdate, generation
from adx_modules.sandboxes.wasm.health import Judgement

log = logging.getLogger("adx_modules.health")


class Reported(HostedInstallation, Protocol):
    """An installation a host judges."""

    @property
    def uid(self) -> str: ...

    @property
    def isolation(self) -> str: ...

    def judged(self) -> Judgement | None:
        """``Healthy``'s (status, reason, message), or None while there is nothing to say."""
        ...

    def usage(self) -> dict[str, Any]:
        """What it uses now (JSON-ready): calls, CPU or fuel, memory."""
        ...


# only while a host still registers it: a removal (kept.release) deletes the row in the
# transaction that removes the registration, whose row lock this waits for
USAGE = """
INSERT INTO module_usage (installation_uid, namespace, name, isolation, usage, observed_at)
SELECT $1::uuid, $2, $3, $4, $5, now()
WHERE EXISTS (SELECT 1 FROM wasm_installations WHERE uid = $1::uuid FOR SHARE)
   OR EXISTS (SELECT 1 FROM runner_installations WHERE uid = $1::uuid FOR SHARE)
ON CONFLICT (installation_uid) DO UPDATE SET usage = EXCLUDED.usage,
    isolation = EXCLUDED.isolation, observed_at = now()"""


class HealthReporter:
    """Judges and reports; remembers what it last reported per installation."""

    def __init__(
        self,
        reported: Callable[[], Sequence[Reported]],
        kube: KubeClient,
        store: Store | None = None,
    ) -> None:
        self._reported_by = reported
        self._kube = kube
        self._store = store
        self._reported: dict[tuple[str, str], tuple[str, str]] = {}
        self._used: dict[str, str] = {}  # uid -> the usage last recorded (JSON)

    async def run(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self.report()

    async def report(self) -> None:
        installations = self._reported_by()
        await self._record_usage(installations)
        for installation in installations:
            judged = installation.judged()
            key = (installation.key, installation.uid)
            if judged is None or self._reported.get(key) == judged[:2]:
                continue
            try:
                if await self._write(installation, judged):
                    self._reported[key] = judged[:2]
            except ClientError as error:  # the next round tries again
                log.warning("%s: cannot report health: %s", installation.key, error)

    async def _record_usage(self, installations: Sequence[Reported]) -> None:
        """One row per installation whose use changed since the last round."""
        if self._store is None:
            return
        changed = []
        for installation in installations:
            usage = installation.usage()
            used = json.dumps(usage, sort_keys=True)
            if self._used.get(installation.uid) != used:
                changed.append((installation, usage, used))
        if not changed:
            return
        try:
            await self._store.pool.executemany(
                USAGE,
                [(i.uid, i.namespace, i.name, i.isolation, usage) for i, usage, _ in changed],
            )
        except (OSError, asyncpg.PostgresError) as error:  # the next round tries again
            log.warning("cannot record the modules' resource use: %s", error)
            return
        self._used.update((i.uid, used) for i, _, used in changed)
        live = {i.uid for i in installations}
        for gone in set(self._used) - live:
            del self._used[gone]

    async def _write(self, registration: Reported, judged: Judgement) -> bool:
        """Set the condition if the CR is settled and it says otherwise; whether it is done."""
        try:
            body = await self._kube.get_custom(
                INSTALLATION, registration.name, registration.namespace
            )
        except NotFoundError:
            return True
        if body.get("metadata", {}).get("uid") != registration.uid:
            return True  # another installation of that name: not ours to judge
        status = body.get("status") or {}
        if status.get("phase") != "Active":
            return False  # a workflow at work: ask again next round
        update = StatusUpdate(
            status, int(status.get("observedGeneration") or generation(body)), datetime.now(UTC)
        )
        current = update.get_condition(c.HEALTHY) or {}
        state, reason, message = judged
        if state == "True" and (
            current.get("status") == "True" or current.get("reason") != r.MODULE_FAILING
        ):
            return True  # healthy already, or unhealthy by a workflow's word, not ours
        if (current.get("status"), current.get("reason")) == (state, reason):
            return True
        update.condition(c.HEALTHY, state, reason, message)
        await self._kube.patch_status(
            INSTALLATION,
            registration.name,
            {"conditions": update.patch()["conditions"]},
            registration.namespace,
        )
        log.info("%s: Healthy=%s %s: %s", registration.key, state, reason, message)
        return True
