"""The operator process: Kopf settings in one place, start-up, probes, and the run loop.

Why it exists: every tunable of the watch loop (timeouts, retries, where Kopf keeps its
bookkeeping, which events it posts) is decided here once, with the reason next to it, and the
``operator`` role starts from here, registering the handlers of every feature.

Where Kopf keeps its bookkeeping: a handler being retried keeps its progress in
``status.kopf.progress``; what was last handled is the status's own ``observedGeneration``
(``service/diffbase.py``), so a handled object costs one status write, not two. Nothing goes into
annotations: GitOps tools compare what Git declares with the live object's spec and metadata;
status is the controller's own and is never diffed, so the operator's writes never show up as
drift in Argo CD or Flux, and never fight a server-side-apply field manager over
``metadata.annotations``. The only metadata the operator writes is its domain-qualified
finalizer, which GitOps tools ignore.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from adx_modules.api.meta import FINALIZER
from adx_modules.clients import temporal
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.kubeconfig import KubeconfigError, connection
from adx_modules.core import metrics
from adx_modules.core.context import OperatorContext
from adx_modules.core.settings import Settings
from adx_modules.service.diffbase import ObservedGenerationDiffBase

LOG = logging.getLogger("adx_modules.operator")


def tune(settings: kopf.OperatorSettings) -> None:
    """Every Kopf setting the operator changes from the framework's defaults."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
    settings.persistence.diffbase_storage = ObservedGenerationDiffBase()
    # the operator posts its own Events for meaningful steps; Kopf's per-handler chatter
    # ("Handler ... succeeded") stays in the log unless it is a warning or worse
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = "adx-module-operator"
    # watches: ask the server to end a watch after 5 minutes (fresh connections through load
    # balancers), and give up on a silent connection a little later
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 30
    # a handler that fails unexpectedly is retried with backoff, not every few seconds
    settings.execution.default_backoff = 15
    # at most this many objects are handled at once: unbounded, a start on thousands of objects
    # opens thousands of TLS connections at once (handshakes cost more CPU than the handlers,
    # and each connection's buffers stay in the heap); bounded, connections are reused. A worker
    # whose object is quiet leaves its slot soon (Kopf keeps it 5 s by default, which would
    # hold the slots idle)
    settings.queueing.worker_limit = 32
    settings.queueing.idle_timeout = 0.5
    # one operator replica is enough: the heavy work runs in Temporal workers; a second replica
    # during a rollout is harmless because every handler is idempotent
    settings.peering.standalone = True


@kopf.on.login()
def login(**_: Any) -> kopf.ConnectionInfo:
    """Kopf logs in exactly as the service's own client does (one reading of the credentials:
    KUBECONFIG, or the pod's service account)."""
    try:
        endpoint = connection()
    except KubeconfigError as error:
        raise kopf.LoginError(str(error)) from None
    return kopf.ConnectionInfo(
        server=endpoint.server,
        ca_data=endpoint.ca_data,
        insecure=endpoint.insecure,
        certificate_data=endpoint.certificate_data,
        private_key_data=endpoint.private_key_data,
        token=endpoint.bearer_token(),
        username=endpoint.username,
        password=endpoint.password,
        default_namespace=endpoint.namespace,
    )  # a rotated token: the server answers 401, Kopf calls this again, the file is re-read


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    tune(settings)
    context: OperatorContext = memo["context"]
    context.kube_client = await KubeClient.connect()
    temporal_settings = context.settings.temporal
    context.temporal_client = await temporal.connect(
        temporal_settings.address, temporal_settings.namespace, lazy=True
    )
    LOG.info("operator started (Temporal %s)", context.settings.temporal.address)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    context: OperatorContext = memo["context"]
    if context.kube_client is not None:
        await context.kube_client.close()


def run(settings: Settings) -> int:
    """Run the operator until SIGINT/SIGTERM; the liveness probe serves ``/healthz``."""
    # importing the features' handler modules registers them with Kopf
    from adx_modules.catalog import handlers as catalog  # noqa: F401, PLC0415
    from adx_modules.installations import handlers as installations  # noqa: F401, PLC0415
    from adx_modules.installations import revisit  # noqa: F401, PLC0415
    from adx_modules.marketplace import handlers as marketplace  # noqa: F401, PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    metrics.serve(settings.server.metrics_port)
    memo = kopf.Memo(context=OperatorContext(settings=settings))
    liveness = f"http://0.0.0.0:{settings.server.health_port}/healthz"
    asyncio.run(kopf.operator(clusterwide=True, memo=memo, liveness_endpoint=liveness))
    return 0
