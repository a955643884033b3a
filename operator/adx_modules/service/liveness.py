"""The operator's ``/healthz``: does this replica's watch still deliver events to its handlers?

Why it exists: Kopf reconnects a watch stream that goes quiet (``inactivity_timeout``, on
bookmarks), but nothing checked end to end that events still reach the handlers: a watcher
task that died, a queue that no longer drains, credentials the watch keeps being refused with,
or a middlebox that silently drops long-lived streams while short requests pass would leave a
leader that holds the Lease and does nothing. The leader writes its Lease every retry period
anyway; it watches that Lease through Kopf like any other resource (a field selector keeps the
stream to that one object), so each renewal must come back through a Kopf watch and a Kopf
handler (:class:`WatchCanary`). When renewals that were written have not come back for
``operator.watch_silence_seconds``, ``/healthz`` answers 500 and the kubelet's liveness probe
restarts the container. A standby, which watches nothing, answers 200 (it is ready to take over).

Why not Kopf's own liveness endpoint: a standby runs no Kopf at all, yet must answer its probes;
and Kopf reports a failing ``@kopf.on.probe`` handler only as an unhandled error in its HTTP
handler (a 500 and a traceback in the log at every probe), and only when the handler raises
``kopf.PermanentError``: a plain exception is retried after the handler's backoff while the
kubelet's request waits. This small server answers for both roles, and its body says why.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

Clock = Callable[[], float]
Verdict = tuple[bool, dict[str, Any]]
MAX_PENDING = 4096  # renewals remembered; at 2 s each, far beyond any sensible silence limit


class WatchCanary:
    """The leader's renewals, written and not yet seen back through the watch."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        # (resourceVersion, when written): the oldest drop out first, so the newest write
        # is always remembered and its delivery always clears the rest
        self._pending: deque[tuple[str, float]] = deque(maxlen=MAX_PENDING)

    def written(self, resource_version: str) -> None:
        """A renewal was written: the watch owes us an event of this version (or a later one)."""
        self._pending.append((resource_version, self._clock()))

    def delivered(self, resource_version: str) -> None:
        """The watch brought the Lease at this version: it and every earlier write arrived
        (Kopf may fold a burst of events into the latest one)."""
        if any(version == resource_version for version, _ in self._pending):
            while self._pending.popleft()[0] != resource_version:
                pass

    def silence(self) -> float:
        """Seconds the oldest undelivered renewal has waited (0 when none waits)."""
        return self._clock() - self._pending[0][1] if self._pending else 0.0


def verdict(*, state: str, me: str, holder: str, silence: float, limit: float) -> Verdict:
    """Healthy or not, and a body that says why."""
    if state == "lost":
        return False, {"role": "lost", "identity": me, "reason": "the Lease was lost; exiting"}
    if state != "leader":
        return True, {"role": "standby", "identity": me, "leader": holder or None}
    body: dict[str, Any] = {"role": "leader", "identity": me, "watchSilenceSeconds": silence}
    if silence > limit:
        body["reason"] = (
            f"renewals of the Lease written {silence:.0f} s ago have not come back through "
            f"the operator's watch (limit {limit:.0f} s)"
        )
        return False, body
    return True, body


async def serve(port: int, judge: Callable[[], Verdict]) -> web.AppRunner:
    """``GET /healthz`` on ``port`` (all addresses: the kubelet probes the pod's IP), answered
    by ``judge``: 200 or 500 with its JSON body. Clean it up with ``await runner.cleanup()``."""

    async def healthz(_: web.Request) -> web.Response:
        healthy, body = judge()
        return web.json_response(body, status=200 if healthy else 500)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()  # noqa: S104 - probed on the pod's IP
    return runner
