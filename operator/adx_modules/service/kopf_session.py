"""Kopf's session to the apiserver: bounded connections, and listed objects without the leaf
detail of their field managers.

Why it exists: Kopf starts each kind with a LIST, and every listed object is held (as a
queued worker) until its handlers have run: a few hundred per kind on a cold start
(``service/kopf_pacing.py``), every object never handled on a first sight. Half of a body is
``metadata.managedFields``: which field manager owns which field, down to every leaf. Held
whole, 5,000 Modules and 5,000 installations are about 128 MB of Python objects; without the
leaves, 76 MB (hand-measured with ``tracemalloc`` on the benchmark's objects). The heap a start
grows is not given back, so that peak is the operator's size for good (docs/scale.md#memory).

The operator reads ``managedFields`` only to name who last changed a spec
(``installations/handlers.actor``), which the top level of ``fieldsV1`` says. So in a LIST's
answer each entry keeps its manager, operation, time and subresource, and of ``fieldsV1`` only
the top-level keys (``{"f:spec": {}}``). Everything else is as the server sent it: single
objects, and watch events (Kopf parses those itself; they come as objects change, not a whole
kind at once).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import kopf

from adx_modules.clients.kubeconfig import KubeconfigError, connection

KOPF_CONNECTIONS = 24  # Kopf's connections at most: its watches, 32 workers' patches, Events


def trim_managed_fields(body: Any) -> None:
    """Cut each field manager's ``fieldsV1`` of ``body`` down to its top-level keys."""
    metadata = body.get("metadata") if isinstance(body, dict) else None
    entries = metadata.get("managedFields") if isinstance(metadata, dict) else None
    for entry in entries if isinstance(entries, list) else ():
        fields = entry.get("fieldsV1") if isinstance(entry, dict) else None
        if isinstance(fields, dict):
            entry["fieldsV1"] = {key: {} for key in fields}


class ListTrimmingResponse(aiohttp.ClientResponse):
    """An answer whose listed objects (``items``) have their field managers trimmed."""

    async def json(
        self,
        *,
        encoding: str | None = None,
        loads: Callable[[str], Any] = json.loads,
        content_type: str | None = "application/json",
    ) -> Any:
        answer = await super().json(encoding=encoding, loads=loads, content_type=content_type)
        items = answer.get("items") if isinstance(answer, dict) else None
        for item in items if isinstance(items, list) else ():
            trim_managed_fields(item)
        return answer


def kopf_session() -> kopf.AiohttpSession:
    """Kopf's session, with the credentials the service's own client reads (KUBECONFIG, or the
    pod's service account) and at most KOPF_CONNECTIONS connections.

    Kopf's own session opens as many connections as requests are in flight, and aiohttp reuses
    its pooled connections in turn, so a trickle of requests keeps every connection a burst
    opened alive for good, each holding a 256 KiB TLS read buffer (60 were kept after a start
    on 1,000 objects). Bounded, requests beyond wait for a connection; each kind's watch holds
    one for its life (a handful: the operator watches cluster-wide, one stream per kind)."""
    try:
        endpoint = connection()
    except KubeconfigError as error:
        raise kopf.LoginError(str(error)) from None
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=endpoint.ssl_context(), limit=KOPF_CONNECTIONS),
        headers=endpoint.headers(),
        response_class=ListTrimmingResponse,
    )  # Kopf closes it when the credentials are invalidated
    return kopf.AiohttpSession(
        server=endpoint.server, default_namespace=endpoint.namespace, aiohttp_session=session
    )  # a rotated token: the server answers 401, Kopf calls this again, the file is re-read
