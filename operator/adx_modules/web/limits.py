"""What one caller, one request and all of them together may take of the API.

Why it exists: the API is shared by every tenant's front ends and scripts; one of them must not
starve the others, and no request may make the service read an unbounded body. A token bucket
per caller (``server.requests_per_second``, twice that in a burst) answers 429 with the seconds
to wait; a body larger than ``server.max_body_bytes`` is refused (413) before it is read whole;
``server.max_connections`` bounds the connections uvicorn serves at once (503 past it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adx_modules.web.problems import problem

TRACKED_AT_MOST = 50_000


@dataclass
class TokenBuckets:
    """Per-key token buckets; ``take`` says how long to wait (0: go)."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str) -> float:
        now = self.clock()
        tokens, then = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        if len(self._buckets) >= TRACKED_AT_MOST and key not in self._buckets:
            self._buckets.clear()  # a flood of keys: start over rather than grow
        self._buckets[key] = (tokens - 1, now)
        return 0.0


class RateLimitedError(Exception):
    """A caller past its rate: ``retry_after`` seconds to wait."""

    def __init__(self, who: str, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"{who} sends more requests than allowed; retry in {self.retry_after}s")


class BodyLimit:
    """ASGI middleware: a request body past ``limit`` bytes is answered 413 unread."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise BodyTooLargeError(self.limit)
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLargeError:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = problem(413, f"a request body is at most {self.limit} bytes")
        await answer(scope, receive, send)


class BodyTooLargeError(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"a request body is at most {limit} bytes")
