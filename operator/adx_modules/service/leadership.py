"""Leader election among the operator's replicas, on a ``coordination.k8s.io/v1`` Lease.

Why it exists: two operator replicas keep the watch loop up through the loss of a node or a
rollout, but two replicas acting at once would handle every event twice. One Lease decides who
acts, by the rules of client-go's ``leaderelection`` (kube-controller-manager's and
controller-runtime's), so the cluster's operators read it as they read every other controller's:

* a replica *acquires* the Lease by creating it, or by taking it over once its record (holder,
  times, transitions) has not changed for the holder's ``leaseDurationSeconds`` as observed on
  this process's own monotonic clock. The holder's ``renewTime`` is never compared with our
  clock, so nodes whose clocks disagree cannot make a standby take over early;
* the leader *renews* every retry period with a conditional write (``resourceVersion``), so two
  replicas never both succeed in writing the same record;
* when renewals have failed for the renew deadline (shorter than the lease duration), the leader
  has lost: the caller stops acting and exits non-zero before any standby may take over;
* on a graceful stop the leader *releases* the Lease (no holder, one second), so a rollout hands
  over within a retry period rather than a lease duration.

The decisions (:class:`Observation`, :func:`claim`, :func:`released`) are pure and unit tested;
:class:`LeaderElector` does the requests, with its own :class:`KubeClient` (its own connections:
the handlers' load never queues a renewal behind them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from adx_modules.api.reasons import LEADER_ELECTION
from adx_modules.clients.errors import ClientError, ConflictError, NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.clients.kubeconfig import KubeconfigError, connection

LOG = logging.getLogger("adx_modules.operator")
API_VERSION = "coordination.k8s.io/v1"
JITTER = 1.2  # a standby tries again after retry..retry*JITTER seconds (client-go's factor)

Clock = Callable[[], float]
State = Literal["standby", "leader", "lost"]


def identity() -> str:
    """This process among the replicas: the pod's name (its hostname) and the pid."""
    return f"{socket.gethostname()}_{os.getpid()}"


def lease_namespace(environ: Mapping[str, str] | None = None) -> str:
    """The operator's namespace: ``POD_NAMESPACE`` (the chart sets it from the downward API),
    else the kubeconfig's (or the service account's), else ``default``."""
    environ = os.environ if environ is None else environ
    if environ.get("POD_NAMESPACE"):
        return environ["POD_NAMESPACE"]
    try:
        return connection().namespace or "default"
    except KubeconfigError:
        return "default"


def micro_time(moment: datetime) -> str:
    """A Kubernetes MicroTime (RFC 3339 with microseconds, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LeaseRef:
    """Which Lease: the operator's namespace and the Lease's name."""

    namespace: str
    name: str

    @property
    def field_selector(self) -> str:
        """A watch of this one Lease (the liveness canary watches it)."""
        return f"metadata.namespace={self.namespace},metadata.name={self.name}"


@dataclass(frozen=True)
class Timing:
    """client-go's three durations (15 s, 10 s, 2 s by default)."""

    lease_duration: int
    renew_deadline: float
    retry_period: float

    def attempt_timeout(self, since_renewed: float) -> float:
        """How long one renewal may take: half the deadline, and never past the deadline."""
        return max(0.0, min(self.renew_deadline / 2, self.renew_deadline - since_renewed))


@dataclass(frozen=True)
class LeaseRecord:
    """The part of a Lease's spec leader election reads and writes."""

    holder: str = ""
    duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    transitions: int = 0

    @classmethod
    def of(cls, lease: Mapping[str, Any]) -> LeaseRecord:
        spec = lease.get("spec") or {}
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            transitions=int(spec.get("leaseTransitions") or 0),
        )

    def spec(self) -> dict[str, Any]:
        return {
            "holderIdentity": self.holder or None,
            "leaseDurationSeconds": self.duration_seconds,
            "acquireTime": self.acquire_time,
            "renewTime": self.renew_time,
            "leaseTransitions": self.transitions,
        }


@dataclass
class Observation:
    """The record this process saw last, and when (on its own clock) it first saw it."""

    record: LeaseRecord | None = None
    since: float = 0.0

    def see(self, record: LeaseRecord | None, now: float) -> None:
        if record != self.record:
            self.record, self.since = record, now

    def expired(self, now: float) -> bool:
        """Whether nobody holds the Lease, or its holder let it run out as we watched."""
        record = self.record
        return record is None or not record.holder or now >= self.since + record.duration_seconds


def claim(
    current: LeaseRecord | None, observed: Observation, *, me: str, now: float, wall: str,
    duration: int,
) -> LeaseRecord | None:  # fmt: skip
    """The record to write to hold the Lease (acquire, renew or take over), or None while
    another replica holds it and we have not watched it run out. ``observed`` has seen
    ``current``; ``wall`` is the time written into the record (for people: never compared)."""
    if current is None:
        return LeaseRecord(me, duration, wall, wall, 0)
    if current.holder == me:  # a renewal, or this very process's previous incarnation
        return replace(current, duration_seconds=duration, renew_time=wall)
    if current.holder and not observed.expired(now):
        return None
    return LeaseRecord(me, duration, wall, wall, current.transitions + 1)


def released(current: LeaseRecord, wall: str) -> LeaseRecord:
    """The record a leader writes as it stops: nobody holds it, so a standby takes it at once."""
    return LeaseRecord("", 1, wall, wall, current.transitions)


def _ignore(_: str) -> None:
    return None


class LeaderElector:
    """Acquire, hold and release one Lease; ``state`` says where this process stands."""

    def __init__(
        self,
        kube: KubeClient,
        lease: LeaseRef,
        me: str,
        timing: Timing,
        *,
        on_written: Callable[[str], None] = _ignore,
        clock: Clock = time.monotonic,
    ) -> None:
        self.kube, self.lease, self.me, self.timing = kube, lease, me, timing
        self.on_written = on_written  # each resourceVersion this process wrote as the holder
        self.clock = clock
        self.observed = Observation()
        self.state: State = "standby"
        self._written: dict[str, Any] | None = None  # the Lease as our last write returned it
        self._renewed_at = 0.0

    @property
    def holder(self) -> str:
        return self.observed.record.holder if self.observed.record else ""

    def _manifest(self, record: LeaseRecord, base: Mapping[str, Any] | None) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.lease.name, "namespace": self.lease.namespace}
        if base is not None:
            metadata = {**base["metadata"], **metadata}
        spec = {**((base or {}).get("spec") or {}), **record.spec()}
        return {"apiVersion": API_VERSION, "kind": "Lease", "metadata": metadata, "spec": spec}

    async def _attempt(self) -> bool:
        """Acquire or renew once: True if this process holds the Lease now."""
        wall = micro_time(datetime.now(UTC))
        duration = self.timing.lease_duration
        if self.state == "leader" and self._written is not None:
            # client-go's fast path: the leader writes over its own last version, no read;
            # changed or deleted meanwhile: read it, as a standby would
            mine = replace(LeaseRecord.of(self._written), renew_time=wall)
            with contextlib.suppress(ConflictError, NotFoundError):
                manifest = self._manifest(mine, self._written)
                return self._wrote(await self.kube.replace_object(manifest))
        try:
            lease: dict[str, Any] | None = await self.kube.get_object(
                "Lease", self.lease.name, self.lease.namespace
            )
        except NotFoundError:
            lease = None
        current = LeaseRecord.of(lease) if lease is not None else None
        now = self.clock()
        self.observed.see(current, now)
        record = claim(current, self.observed, me=self.me, now=now, wall=wall, duration=duration)
        if record is None:
            return False
        try:
            if lease is None:
                written = await self.kube.create_object(self._manifest(record, None))
            else:
                written = await self.kube.replace_object(self._manifest(record, lease))
        except ConflictError:  # another replica wrote first: look again next time
            return False
        return self._wrote(written)

    def _wrote(self, written: dict[str, Any]) -> bool:
        self._written = written
        self.observed.see(LeaseRecord.of(written), self.clock())
        self.on_written(str(written["metadata"].get("resourceVersion") or ""))
        return True

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Stand by until this process holds the Lease (True) or ``stop`` is set (False)."""
        waiting_for, complaint = "", None
        while not stop.is_set():
            started = self.clock()
            try:
                if await asyncio.wait_for(self._attempt(), self.timing.renew_deadline):
                    self.state, self._renewed_at = "leader", started
                    LOG.info("became leader: %s holds Lease %s", self.me, self._where())
                    await self._post("Normal", f"{self.me} became leader")
                    return True
                complaint = None
            except (ClientError, TimeoutError) as error:
                if str(error) != complaint:  # once per kind of trouble, not every 2 s
                    complaint = str(error)
                    LOG.warning(
                        "cannot read Lease %s: %s", self._where(), str(error) or "timed out"
                    )
            if self.holder and self.holder != waiting_for:
                waiting_for = self.holder
                LOG.info("waiting for leader %s (Lease %s)", waiting_for, self._where())
            pause = self.timing.retry_period * random.uniform(1.0, JITTER)  # noqa: S311
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
        return False

    async def hold(self) -> None:
        """Renew every retry period; return once the Lease is lost (renewals failed for the
        renew deadline, or another replica holds it). Cancel it to stop renewing."""
        while True:
            started = self.clock()
            timeout = self.timing.attempt_timeout(started - self._renewed_at)
            if timeout <= 0:
                break
            try:
                if await asyncio.wait_for(self._attempt(), timeout):
                    self._renewed_at = started  # the write landed after this: conservative
                elif self.holder != self.me:
                    LOG.error("Lease %s is held by %s now", self._where(), self.holder)
                    break
            except (ClientError, TimeoutError) as error:
                LOG.warning(
                    "renewing Lease %s failed: %s", self._where(), str(error) or "timed out"
                )
            await asyncio.sleep(max(0.0, self.timing.retry_period - (self.clock() - started)))
        self.state = "lost"
        LOG.error(
            "lost lease %s (last renewed %.1f s ago): stopping the handlers and exiting",
            self._where(),
            self.clock() - self._renewed_at,
        )

    async def release(self) -> None:
        """Give the Lease up as this process stops, so a standby takes over at its next try."""
        if self.state != "leader" or self._written is None:
            return
        self.state = "standby"
        record = released(LeaseRecord.of(self._written), micro_time(datetime.now(UTC)))
        try:
            await asyncio.wait_for(
                self.kube.replace_object(self._manifest(record, self._written)),
                self.timing.renew_deadline,
            )
        except (ClientError, TimeoutError) as error:
            LOG.warning(
                "could not release Lease %s (%s): a standby takes over after %d s",
                self._where(),
                str(error) or "timed out",
                self.timing.lease_duration,
            )
            return
        LOG.info("released Lease %s", self._where())

    async def announce_loss(self) -> None:
        """Best effort (the apiserver may be what is gone): a Warning Event on the Lease."""
        await self._post("Warning", f"{self.me} lost the lease and exits")

    async def _post(self, type_: str, message: str) -> None:
        if self._written is None:
            return
        with contextlib.suppress(ClientError, TimeoutError):
            await asyncio.wait_for(
                self.kube.post_event(self._written, type_, LEADER_ELECTION, message),
                self.timing.retry_period,
            )

    def _where(self) -> str:
        return f"{self.lease.namespace}/{self.lease.name}"
