"""What every Kopf handler may use, built once at start-up and passed as Kopf's ``memo``.

Why it exists: the handlers of every feature need the same few things: the settings, a
Kubernetes client, a Temporal client (connected lazily, so the operator starts and says
``Retrying`` on objects while Temporal is away), and a way to re-evaluate an object when
something it depends on changed. One typed object holds them; a handler that runs before
start-up finished is told to come back (Kopf retries it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import kopf
from temporalio.client import Client

from adx_modules.api.meta import KindInfo
from adx_modules.clients.errors import ClientError, NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.core.settings import Settings
from adx_modules.core.status import Outcome, changes

LOG = logging.getLogger("adx_modules.operator")


def apply_outcome(outcome: Outcome, body: kopf.Body, patch: kopf.Patch) -> None:
    """Hand a handler's outcome to Kopf: the status patch (only what changes: a restart on an
    unchanged cluster writes nothing) and the Event, if Ready changed."""
    if changes(body.status, outcome.patch):
        patch.status.update(outcome.patch)
    if outcome.event:
        type_, reason, message = outcome.event
        kopf.event(body, type=type_, reason=reason, message=message)


def _starting() -> kopf.TemporaryError:
    return kopf.TemporaryError("the operator is still starting", delay=2)


@dataclass
class OperatorContext:
    """Settings and clients of the operator process."""

    settings: Settings
    kube_client: KubeClient | None = None
    temporal_client: Client | None = None
    # (namespace, name) of the installations deferred until a Module they depend on is judged:
    # each is put here by its own reconcile before it awaits anything, so a judgement that
    # lands while it is still writing its status revisits it all the same
    waiting_for_dependencies: set[tuple[str, str]] = field(default_factory=set)

    @property
    def kube(self) -> KubeClient:
        if self.kube_client is None:
            raise _starting()
        return self.kube_client

    @property
    def temporal(self) -> Client:
        if self.temporal_client is None:
            raise _starting()
        return self.temporal_client

    async def refresh(
        self,
        kind: KindInfo,
        name: str,
        namespace: str | None,
        evaluate: Callable[[dict[str, Any]], Outcome],
    ) -> None:
        """Re-evaluate one object from a fresh copy and patch its status only if it differs
        (best effort: the object's own handler catches up if this fails)."""
        try:
            body = await self.kube.get_custom(kind, name, namespace)
            if body.get("metadata", {}).get("deletionTimestamp"):
                return
            outcome = evaluate(body)
            if changes(body.get("status"), outcome.patch):
                await self.kube.patch_status(kind, name, outcome.patch, namespace)
                if outcome.event:
                    type_, reason, message = outcome.event
                    involved = kopf.Body(cast(kopf.RawBody, body))
                    kopf.event(involved, type=type_, reason=reason, message=message)
        except NotFoundError:
            return
        except ClientError as error:
            LOG.warning("revisiting %s %s failed: %s", kind.kind, name, error)
