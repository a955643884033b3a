"""Events between modules, delivered to the WASM modules that subscribe.

Why it exists: a module publishes with ``adx.event_emit`` into its tenant's event log
(``module_events``); modules of the same tenant that hold ``event:subscribe:<topic>`` and
export ``on_event`` get each matching event, in order, at least once: a subscriber's cursor
(``event_cursors``) moves only after its handler answered, so a host killed in between delivers
it again, with the same id for the handler to recognise. A module never sees another tenant's
events, nor its own. A trigger wakes the dispatcher at once (LISTEN); a poll every
``POLL_SECONDS`` catches what a lost connection missed. An event a handler fails on
``MAX_ATTEMPTS`` times is skipped, and the installation's health says so, so one poison event
cannot stop a subscriber for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from adx_modules.sandboxes.wasm.capabilities import Capabilities
from adx_modules.sandboxes.wasm.host import ON_EVENT, WasmHost
from adx_modules.sandboxes.wasm.hosted import Hosted
from adx_modules.sandboxes.wasm.records import WasmRecords

log = logging.getLogger("adx_modules.wasm")

EVENTS_CHANNEL = "module_events"  # the trigger of db/migrations/004 notifies it
POLL_SECONDS = 2.0
BATCH = 100
MAX_ATTEMPTS = 5


class EventDispatcher:
    """Delivers each tenant's events to its subscribing WASM installations."""

    def __init__(self, host: WasmHost, records: WasmRecords) -> None:
        self._host = host
        self._records = records
        self._wake = asyncio.Event()
        self._failures: dict[tuple[str, int], int] = {}

    def wake(self, *_: Any) -> None:
        """A new event (the LISTEN callback)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):  # no news: poll anyway
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()
            try:
                await self.dispatch()
            except Exception:
                log.exception("event delivery failed")

    async def dispatch(self) -> None:
        """One round: each subscriber's pending events, in order."""
        for hosted in self._host.hosted():
            serving = hosted.serving
            if serving is None or ON_EVENT not in serving.compiled.exports:
                continue
            capabilities = Capabilities(serving.spec.permissions)
            if not capabilities.subscriptions:
                continue
            await self._deliver_pending(hosted, capabilities)

    async def _deliver_pending(self, hosted: Hosted, capabilities: Capabilities) -> None:
        registration = hosted.registration
        ns, name = registration.namespace, registration.name
        for event in await self._records.pending_events(ns, name, BATCH):
            if event.source != name and capabilities.subscribes(event.topic):
                handled = await self._host.deliver(hosted, event)
                if handled is None:
                    return  # inactive or busy: this event first, next round
                if not handled and not self._given_up(hosted, event.id):
                    return  # in order: try it again next round
            await self._records.advance(ns, name, event.id)

    def _given_up(self, hosted: Hosted, event_id: int) -> bool:
        key = (hosted.key, event_id)
        self._failures[key] = self._failures.get(key, 0) + 1
        if self._failures[key] < MAX_ATTEMPTS:
            return False
        del self._failures[key]
        hosted.health.last_error = (
            f"event {event_id} skipped after {MAX_ATTEMPTS} failed deliveries: "
            f"{hosted.health.last_error}"
        )
        log.warning("%s: %s", hosted.key, hosted.health.last_error)
        return True
