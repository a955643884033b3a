"""The WASM host writes each installation's health into its ModuleInstallation.

Why it exists: a tenant asks ``kubectl get mi`` how its module does, not the host. Every
``wasm.health_report_seconds`` the host judges each serving installation on its latest calls
(:mod:`health`) and, only when the judgement changes, sets the ``Healthy`` condition on the CR
of the same uid while it is settled (phase Active: a workflow at work writes its own
conditions). It never overrides a ``Healthy=False`` a workflow wrote (a failed health check);
it turns its own ``ModuleFailing`` back to ``True`` when calls succeed again. Writes are rare
(one per change), so a hundred installations cost the apiserver nothing.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.api.installation import INSTALLATION
from adx_modules.clients.errors import ClientError, NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.core.status import StatusUpdate, generation
from adx_modules.sandboxes.wasm.health import Judgement
from adx_modules.sandboxes.wasm.host import WasmHost
from adx_modules.sandboxes.wasm.hosted import Hosted

log = logging.getLogger("adx_modules.wasm")


class HealthReporter:
    """Judges and reports; remembers what it last reported per installation."""

    def __init__(self, host: WasmHost, kube: KubeClient) -> None:
        self._host = host
        self._kube = kube
        self._reported: dict[tuple[str, str], tuple[str, str]] = {}

    async def run(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self.report()

    async def report(self) -> None:
        for hosted in self._host.hosted():
            judged = hosted.health.condition()
            registration = hosted.registration
            key = (registration.key, registration.uid)
            if judged is None or self._reported.get(key) == judged[:2]:
                continue
            try:
                if await self._write(hosted, judged):
                    self._reported[key] = judged[:2]
            except ClientError as error:  # the next round tries again
                log.warning("%s: cannot report health: %s", registration.key, error)

    async def _write(self, hosted: Hosted, judged: Judgement) -> bool:
        """Set the condition if the CR is settled and it says otherwise; whether it is done."""
        registration = hosted.registration
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
