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

Replicas: with ``operator.leader_election`` (the default) the process stands by until it holds
the operator's Lease (``service/leadership.py``), runs Kopf only while it renews it, and
serves ``/healthz`` itself, judging whether its watch still delivers (``service/liveness.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import threading
from typing import Any

import kopf

from adx_modules.api.meta import FINALIZER
from adx_modules.clients import temporal
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.kubeconfig import KubeconfigError
from adx_modules.core import logs, metrics
from adx_modules.core.context import OperatorContext
from adx_modules.core.settings import Settings
from adx_modules.service import kopf_pacing, liveness
from adx_modules.service.diffbase import ObservedGenerationDiffBase
from adx_modules.service.kopf_session import kopf_session
from adx_modules.service.leadership import (
    LeaderElector,
    LeaseRef,
    Timing,
    identity,
    lease_namespace,
)

LOG = logging.getLogger("adx_modules.operator")
LEASES = ("coordination.k8s.io", "v1", "leases")
CANARY = "lease-watch"


SUCCESS = re.compile(r"Handler '[^']*' succeeded\.$|\w+ is processed: \d+ succeeded; 0 failed\.$")


def _not_a_success(record: logging.LogRecord) -> bool:
    """Kopf logs each handler's success and each object's processed cause at INFO: four or five
    lines per object (45,000 on a restart on 5,000 Modules and 5,000 installations, where
    py-spy found 7% of the operator's samples in logging), the canary's every retry period.
    What a handler did is in the object's status, its Events and the operator's own log lines;
    Kopf's failures, retries and warnings stay."""
    return record.levelno > logging.INFO or not SUCCESS.match(record.getMessage())


def tune(settings: kopf.OperatorSettings) -> None:
    """Every Kopf setting the operator changes from the framework's defaults."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
    settings.persistence.diffbase_storage = ObservedGenerationDiffBase()
    # the operator posts its own Events for meaningful steps; Kopf's per-handler chatter
    # ("Handler ... succeeded") stays in the log unless it is a warning or worse
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = "adx-module-operator"
    # Events are posted in the background by per-object posters: unbounded, a burst of 5,000
    # objects posts 5,000 at once on as many new TLS connections (each a handshake, and a
    # buffer kept while the pool lives); bounded, a poster keeps its slot for idle_timeout
    # after its object's last Event, so the pace is at most worker_limit / idle_timeout
    settings.posting.worker_limit = 8
    settings.posting.idle_timeout = 0.02
    # watches: ask the server to end a watch after 5 minutes (fresh connections through load
    # balancers), and give up on a silent connection a little later
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    # the first LIST of each kind a page at a time: whole, 5,000 objects are one answer of
    # tens of MiB, decoded at once; paged, the next page is read as the workers take the
    # listed objects in (service/kopf_pacing.py)
    settings.watching.chunk_size = 500
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 30
    # a handler that fails unexpectedly is retried with backoff, not every few seconds
    settings.execution.default_backoff = 15
    # at most this many objects are handled at once: unbounded, a start on thousands of objects
    # opens thousands of TLS connections at once (handshakes cost more CPU than the handlers,
    # and each connection's buffers stay in the heap); bounded, connections are reused. The
    # limit is per kind, and a worker keeps its slot for idle_timeout after its object's last
    # event, so a kind is handled at most worker_limit / idle_timeout objects a second: Kopf's
    # 5 s would allow 6.4 a second; 0.5 s allowed 64 (a restart on 5,000 Modules and 5,000
    # installations took 84 s, the cores mostly idle). An event that arrives after its worker
    # left starts a new one, which costs a task, not a request.
    settings.queueing.worker_limit = 32
    settings.queueing.idle_timeout = 0.05
    # Kopf's own peering (KopfPeering objects, pausing by priority) stays off: which replica
    # acts is decided by the operator's Lease, before Kopf starts (service/leadership.py)
    settings.peering.standalone = True


@kopf.on.login()
async def login(**_: Any) -> kopf.AiohttpSession:
    """Kopf logs in on the session of ``service/kopf_session.py``: bounded connections, listed
    objects trimmed. A rotated token: the server answers 401, Kopf calls this again."""
    return kopf_session()


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    tune(settings)
    lease: LeaseRef | None = memo.get("lease")
    if lease is not None:  # the liveness canary watches this one Lease, nothing else
        settings.watching.field_selectors[LEASES[0], LEASES[2]] = lease.field_selector
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


async def lease_seen(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """The operator's Lease, back through Kopf's watch: each renewal the leader wrote must
    arrive here (``/healthz`` fails when they stop arriving)."""
    canary: liveness.WatchCanary = memo["watch_canary"]
    canary.delivered(str(body.get("metadata", {}).get("resourceVersion") or ""))


async def run_elected(settings: Settings, memo: kopf.Memo) -> int:
    """Stand by until this replica holds the Lease, then run Kopf while renewing it. 0 after
    SIGTERM/SIGINT (the Lease released, so a standby takes over at once); 1 when the Lease was
    lost (Kopf is stopped first, and the process ends within the lease's margin regardless)."""
    config = settings.operator
    timing = Timing(
        config.lease_duration_seconds, config.renew_deadline_seconds, config.retry_period_seconds
    )
    lease = LeaseRef(lease_namespace(), config.lease_name)
    canary = liveness.WatchCanary()
    memo["lease"], memo["watch_canary"] = lease, canary
    kopf.on.event(*LEASES, id=CANARY)(lease_seen)
    logging.getLogger("kopf.objects").addFilter(_not_a_success)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stopping(signum: signal.Signals) -> None:
        LOG.info("%s received: stopping", signum.name)
        stop.set()

    def stop_on_signals() -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping, signum)

    stop_on_signals()
    # a lost leader must not act on: Kopf gets the stop flag, and the process ends, stopped or
    # not, before a standby may take over (the lease duration after the last renewal; the loss
    # is declared at the renew deadline: this margin, 3 s by default, is inside the difference)
    margin = max(1.0, timing.lease_duration - timing.renew_deadline - timing.retry_period)

    def on_lost(task: asyncio.Task[None]) -> None:
        if not task.cancelled():
            stop.set()
            ending = threading.Timer(margin, os._exit, (1,))
            ending.daemon = True
            ending.start()

    try:
        kube = await KubeClient.connect()
    except KubeconfigError as error:
        LOG.error("cannot reach the Kubernetes API: %s", error)
        return 2
    async with kube:
        elector = LeaderElector(kube, lease, identity(), timing, on_written=canary.written)

        def judge() -> liveness.Verdict:
            return liveness.verdict(
                state=elector.state,
                me=elector.me,
                holder=elector.holder,
                silence=canary.silence(),
                limit=config.watch_silence_seconds,
            )

        health = await liveness.serve(settings.server.health_port, judge)
        try:
            LOG.info("standing by for Lease %s/%s as %s", lease.namespace, lease.name, elector.me)
            if not await elector.acquire(stop):
                return 0
            holding = asyncio.create_task(elector.hold(), name="lease renewals")
            holding.add_done_callback(on_lost)
            existing = asyncio.all_tasks()
            tasks = await kopf.spawn_tasks(clusterwide=True, memo=memo, stop_flag=stop)
            # Kopf took SIGINT/SIGTERM for itself: a signal sets the stop flag instead, the one
            # a lost Lease sets (Kopf stopped by a signal would let its waiter on that flag sit
            # out its 5 s timeout for tasks that do not end, delaying the handover)
            stop_on_signals()
            await kopf.run_tasks(tasks, ignored=existing)
            if holding.done():
                await elector.announce_loss()
                return 1
            holding.cancel()
            await elector.release()
            return 0
        finally:
            await health.cleanup()


def run(settings: Settings) -> int:
    """Run the operator until SIGINT/SIGTERM; ``/healthz`` serves the liveness probe."""
    # importing the features' handler modules registers them with Kopf
    from adx_modules.catalog import handlers as catalog  # noqa: F401, PLC0415
    from adx_modules.installations import handlers as installations  # noqa: F401, PLC0415
    from adx_modules.installations import revisit  # noqa: F401, PLC0415
    from adx_modules.marketplace import handlers as marketplace  # noqa: F401, PLC0415

    kopf_pacing.install()
    logs.configure(settings.server.log_format)
    metrics.serve(settings.server.metrics_port)
    memo = kopf.Memo(context=OperatorContext(settings=settings))
    if settings.operator.leader_election:
        return asyncio.run(run_elected(settings, memo))
    endpoint = f"http://0.0.0.0:{settings.server.health_port}/healthz"
    asyncio.run(kopf.operator(clusterwide=True, memo=memo, liveness_endpoint=endpoint))
    return 0
