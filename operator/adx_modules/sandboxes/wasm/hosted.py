"""One installation as the WASM host holds it: the module that serves, the one being rolled
out, its concurrency cap, and its health counters.

Why it exists: hot swap and per-installation health are state of one installation, apart from
HTTP and from the database. ``serving`` is replaced whole (one assignment, atomic under the GIL):
a call takes the pair it finds when it starts and finishes on it, so an update or a rollback
never fails a call in flight, and there is nothing to drain but the calls themselves.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from adx_modules.sandboxes.wasm.engine import Compiled
from adx_modules.sandboxes.wasm.health import Judgement, verdict
from adx_modules.sandboxes.wasm.hostapi import TokenBucket
from adx_modules.sandboxes.wasm.records import Registration, RevisionSpec

LATENCY_WINDOW = 1024  # the latest calls the percentiles are taken over
HEALTH_WINDOW = 100  # the latest calls health is judged on


@dataclass(frozen=True)
class Loaded:
    """A revision and its compiled module."""

    spec: RevisionSpec
    compiled: Compiled


@dataclass
class Health:
    """Counters of an installation's calls since the host started."""

    calls: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    last_error: str = ""
    last_error_at: float = 0.0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    outcomes: deque[bool] = field(default_factory=lambda: deque(maxlen=HEALTH_WINDOW))
    fuel_used: int = 0
    last_fuel: int = 0
    memory_bytes: int = 0

    def succeeded(self, seconds: float, fuel: int, memory: int) -> None:
        self.calls += 1
        self.latencies.append(seconds)
        self.outcomes.append(True)
        self.fuel_used += fuel
        self.last_fuel = fuel
        self.memory_bytes = max(self.memory_bytes, memory)

    def failed(self, seconds: float, reason: str, message: str) -> None:
        self.calls += 1
        self.latencies.append(seconds)
        self.outcomes.append(False)
        self.failures[reason] += 1
        self.last_error = f"{reason}: {message}"
        self.last_error_at = time.time()

    def percentile_ms(self, share: float) -> float | None:
        ordered = sorted(self.latencies)
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 3)

    def condition(self) -> Judgement | None:
        """The ``Healthy`` condition these counters make (None: too few calls to say)."""
        return verdict(
            self.outcomes, self.last_error, self.percentile_ms(0.5), self.percentile_ms(0.99)
        )

    def summary(self) -> dict[str, Any]:
        percentile = self.percentile_ms
        return {
            "calls": self.calls,
            "failures": dict(self.failures),
            "lastError": self.last_error or None,
            "lastErrorAt": self.last_error_at or None,
            "latencyMs": {"p50": percentile(0.5), "p99": percentile(0.99)},
            "fuelUsed": self.fuel_used,
            "lastFuel": self.last_fuel,
            "peakMemoryBytes": self.memory_bytes,
        }


class Hosted:
    """An installation in the host."""

    def __init__(self, registration: Registration, max_concurrency: int, rate: float) -> None:
        self.registration = registration
        self.serving: Loaded | None = None
        self.staged: Loaded | None = None
        self.load_error: str = ""
        self.in_flight = 0
        self.max_concurrency = max_concurrency
        self.bucket = TokenBucket(rate)
        self.health = Health()
        self.removed = False

    @property
    def key(self) -> str:
        return self.registration.key

    def take_slot(self) -> bool:
        """A place for one more call (the event loop is the only caller: no lock needed)."""
        if self.in_flight >= self.max_concurrency:
            return False
        self.in_flight += 1
        return True

    def release_slot(self) -> None:
        self.in_flight -= 1

    def describe(self) -> dict[str, Any]:
        serving, staged = self.serving, self.staged
        registration = self.registration
        return {
            "namespace": registration.namespace,
            "name": registration.name,
            "active": registration.active,
            "desiredRevision": registration.desired.revision,
            "servingRevision": serving.spec.revision if serving else None,
            "servingVersion": serving.spec.version if serving else None,
            "servingDigest": serving.compiled.digest if serving else None,
            "stagedRevision": staged.spec.revision if staged else None,
            "loadError": self.load_error or None,
            "inFlight": self.in_flight,
            "functions": list(registration.desired.functions),
            "health": self.health.summary(),
        }
