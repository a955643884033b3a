"""Events between modules, delivered to the modules that subscribe, whatever runs them.

Why it exists: a module publishes (``adx.event_emit`` in WASM, ``sdk.events.emit`` in the SDK)
into its tenant's event log (``module_events``, a PostgreSQL outbox); modules of the same tenant
that hold ``event:subscribe:<topic>`` and handle events (a WASM module's ``on_event`` export, an
SDK module's ``@subscribe`` methods) get each matching event, in order, at least once: a
subscriber's cursor (``event_cursors``) moves past an event only after its handler answered
(once per batch), so a host killed in between delivers it again, with the same id for the
handler to recognise. A module never
sees another tenant's events, nor its own. A trigger wakes the dispatcher at once (LISTEN); a
poll every ``POLL_SECONDS`` catches what a lost connection missed. An event a handler fails on
``MAX_ATTEMPTS`` times is skipped, and the installation's health says so, so one poison event
cannot stop a subscriber for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from adx_modules.core.refs import HostedInstallation
from adx_modules.sandboxes.wasm.capabilities import Capabilities
from adx_modules.sandboxes.wasm.records import Event, WasmRecords

log = logging.getLogger("adx_modules.events")

EVENTS_CHANNEL = "module_events"  # the trigger of db/migrations/004 notifies it
POLL_SECONDS = 2.0
BATCH = 100
MAX_ATTEMPTS = 5


class Subscriber(HostedInstallation, Protocol):
    """An installation that handles events (its host decides how they reach it)."""

    @property
    def capabilities(self) -> Capabilities: ...

    async def deliver(self, event: Event) -> bool | None:
        """Whether the module handled ``event``; None when it cannot take one now (inactive,
        busy: ask again later)."""
        ...

    def gave_up(self, message: str) -> None:
        """An event was skipped after MAX_ATTEMPTS failures: say so in its health."""
        ...


class EventDispatcher:
    """Delivers each tenant's events to its subscribing installations."""

    def __init__(
        self, subscribers: Callable[[], Sequence[Subscriber]], records: WasmRecords
    ) -> None:
        self._subscribers = subscribers
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
                while await self.dispatch():
                    pass  # a subscriber had a full batch: there may be more, go on at once
            except Exception:
                log.exception("event delivery failed")

    async def dispatch(self) -> bool:
        """One round: each subscriber's pending events, in order; whether one of them had a
        full batch (more may wait)."""
        more = False
        for subscriber in self._subscribers():
            if subscriber.capabilities.subscriptions:
                more = await self._deliver_pending(subscriber) or more
        return more

    async def _deliver_pending(self, subscriber: Subscriber) -> bool:
        """Deliver up to BATCH events; the cursor moves once, past the last one handled (a
        crash before that delivers them again: at least once, ids to recognise them)."""
        ns, name = subscriber.namespace, subscriber.name
        pending = await self._records.pending_events(ns, name, BATCH)
        done = 0
        try:
            for event in pending:
                if event.source != name and subscriber.capabilities.subscribes(event.topic):
                    handled = await subscriber.deliver(event)
                    if handled is None:
                        return False  # inactive or busy: this event first, next round
                    if not handled and not self._given_up(subscriber, event.id):
                        return False  # in order: try it again next round
                done = event.id
        finally:
            if done:
                await self._records.advance(ns, name, done)
        return len(pending) == BATCH

    def _given_up(self, subscriber: Subscriber, event_id: int) -> bool:
        key = (subscriber.key, event_id)
        self._failures[key] = self._failures.get(key, 0) + 1
        if self._failures[key] < MAX_ATTEMPTS:
            return False
        del self._failures[key]
        subscriber.gave_up(f"event {event_id} skipped after {MAX_ATTEMPTS} failed deliveries")
        return True
