"""The remote marketplace's sync, one round: pull its listings and module versions, apply them
here, labelled as synced; never touch what is local.

Why it exists: a platform can offer what another instance of this service publishes. A round
reads the remote's ``GET /api/v1/marketplace/listings`` (with ``marketplace.api_key`` as the
bearer token: the key stays out of workflow histories) and server-side applies each object under
its own field manager with the label ``modules.adxcore.com/synced-from=<remote host>``. An object
of the same name that exists here without that label is local and is never overwritten (named in
the round's outcome); a Module version is immutable, so a synced one is only created. Each round
is recorded (``market_sync``), so a failing remote is visible.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
from temporalio import activity

from adx_modules.api.listing import LISTING
from adx_modules.api.meta import KindInfo
from adx_modules.api.module import MODULE
from adx_modules.clients.errors import ClientError, InvalidError, NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.core.settings import MarketplaceSettings
from adx_modules.marketplace.contract import PurchaseActivities, SyncOutcome, SyncRequest

SYNCED_FROM = "modules.adxcore.com/synced-from"
SOURCE_URL = "modules.adxcore.com/synced-from-url"
MANAGER = "adx-marketplace-sync"
LISTINGS_PATH = "/api/v1/marketplace/listings"


class RemoteError(Exception):
    """The remote marketplace did not give a usable answer (the round fails, is retried)."""


def source_label(base_url: str) -> str:
    """The remote's host as a label value (``market.example.com``)."""
    host = urlsplit(base_url).netloc or base_url
    value = re.sub(r"[^A-Za-z0-9._-]", "-", host)[:63].strip("-._")
    return value or "remote"


def synced(body: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A remote object as it is applied here: kind, name, spec, the synced label and source."""
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {
            "name": body["metadata"]["name"],
            "labels": {SYNCED_FROM: source_label(base_url)},
            "annotations": {SOURCE_URL: base_url},
        },
        "spec": body.get("spec") or {},
    }


class SyncSteps:
    """Reads the remote over HTTP, writes here through the Kubernetes API and PostgreSQL."""

    def __init__(self, kube: KubeClient, store: Store, settings: MarketplaceSettings) -> None:
        self._kube = kube
        self._store = store
        self._settings = settings

    async def _remote(self, base_url: str) -> dict[str, Any]:
        headers = (
            {"Authorization": f"Bearer {self._settings.api_key}"} if self._settings.api_key else {}
        )
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                answer = await http.get(base_url.rstrip("/") + LISTINGS_PATH, headers=headers)
        except httpx.HTTPError as error:
            raise RemoteError(f"{base_url} did not answer: {error}") from None
        if answer.status_code != 200:
            detail = answer.text[:300]
            raise RemoteError(f"{base_url} answered {answer.status_code}: {detail}")
        try:
            found = answer.json()
        except ValueError:
            raise RemoteError(f"{base_url} answered something that is not JSON") from None
        if not isinstance(found, dict):
            raise RemoteError(f"{base_url} answered JSON that is not an object")
        return found

    async def _apply(self, kind: KindInfo, body: dict[str, Any], request: SyncRequest) -> str:
        """created | updated | unchanged | local (never touched)."""
        wanted = synced(body, request.base_url)
        name = wanted["metadata"]["name"]
        try:
            existing = await self._kube.get_custom(kind, name)
        except NotFoundError:
            await self._kube.apply_custom(kind, wanted, manager=MANAGER)
            return "created"
        labels = (existing.get("metadata") or {}).get("labels") or {}
        if labels.get(SYNCED_FROM) != source_label(request.base_url):
            return "local"
        if kind is MODULE or existing.get("spec") == wanted["spec"]:
            return "unchanged"  # a Module version never changes
        await self._kube.apply_custom(kind, wanted, manager=MANAGER)
        return "updated"

    @activity.defn(name=PurchaseActivities.PULL_REMOTE)
    async def pull(self, request: SyncRequest) -> SyncOutcome:
        """One round: Modules first (listings name them), then listings."""
        remote = await self._remote(request.base_url)
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        kept_local, refused = [], []
        for kind, key in ((MODULE, "modules"), (LISTING, "listings")):
            for body in remote.get(key) or []:
                if not isinstance(body, dict) or body.get("kind") != kind.kind:
                    refused.append(f"{key}: an entry that is not a {kind.kind}")
                    continue
                name = str((body.get("metadata") or {}).get("name", ""))
                try:
                    done = await self._apply(kind, body, request)
                except InvalidError as error:  # the apiserver's own validation refused it
                    refused.append(f"{kind.kind} {name}: {error}")
                    continue
                except (ClientError, KeyError) as error:
                    raise RemoteError(f"applying {kind.kind} {name}: {error}") from None
                if done == "local":
                    kept_local.append(f"{kind.kind}/{name}")
                else:
                    counts[done] += 1
        return SyncOutcome(
            base_url=request.base_url,
            kept_local=kept_local,
            error="; ".join(refused),
            **counts,
        )

    @activity.defn(name=PurchaseActivities.RECORD_SYNC)
    async def record(self, outcome: SyncOutcome) -> None:
        await self._store.pool.execute(
            """INSERT INTO market_sync (base_url, created, updated, unchanged, kept_local, error)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            outcome.base_url,
            outcome.created,
            outcome.updated,
            outcome.unchanged,
            outcome.kept_local,
            outcome.error,
        )

    def all(self) -> list[Any]:
        return [self.pull, self.record]


async def recent_rounds(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    """The latest rounds of the sync, newest first."""
    rows = await store.pool.fetch(
        "SELECT base_url, at, created, updated, unchanged, kept_local, error FROM market_sync "
        "ORDER BY id DESC LIMIT $1",
        limit,
    )
    return [{**dict(row), "at": row["at"].isoformat()} for row in rows]
