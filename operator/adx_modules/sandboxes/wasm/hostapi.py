"""The host API one installation's module gets: configuration, storage, HTTP and events, each
call checked against its permissions, denied calls audited.

Why it exists: :mod:`abi` marshals a guest's call; this decides and does it. It runs in the
call's thread (the wasm is blocked in the host function meanwhile) and reaches PostgreSQL
through the host's event loop, with a timeout, so a slow database cannot hold a call past its
deadline for long. HTTP goes only to hosts a ``network:access:`` permission allows, at most
``wasm.http_requests_per_second`` per installation, without following redirects (a redirect
could lead anywhere), and answers with at most ``max_output_bytes`` of body.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from adx_modules.sandboxes.wasm.abi import (
    BAD_INPUT,
    DENIED,
    FAILED,
    LIMITED,
    QUOTA_EXCEEDED,
    HostCallError,
)
from adx_modules.sandboxes.wasm.capabilities import Capabilities, DeniedError
from adx_modules.sandboxes.wasm.records import QuotaExceededError, WasmRecords, payload_json

T = TypeVar("T")
DATABASE_TIMEOUT = 5.0
MAX_KEY_BYTES = 512
MAX_FETCH_BYTES = 1 * 2**20
HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}


class TokenBucket:
    """``rate`` per second, bursts up to twice that; shared by an installation's calls."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._capacity = max(1.0, 2 * rate)
        self._tokens = self._capacity
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


@dataclass(frozen=True)
class Tenancy:
    """Whose module is calling, and what it was given."""

    uid: str
    namespace: str
    name: str
    configuration: dict[str, Any]
    capabilities: Capabilities
    quota_bytes: int


class InstallationHostApi:
    """:class:`abi.HostApi` for one installation's calls."""

    def __init__(
        self,
        tenancy: Tenancy,
        records: WasmRecords,
        loop: asyncio.AbstractEventLoop,
        http: httpx.Client,
        bucket: TokenBucket,
    ) -> None:
        self._tenancy = tenancy
        self._records = records
        self._loop = loop
        self._http = http
        self._bucket = bucket

    def _wait(self, work: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result(timeout=DATABASE_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise HostCallError(FAILED, "the host's database did not answer in time") from None

    def _checked(self, check: Any, *args: Any, **kwargs: Any) -> None:
        """Run a capability check; a refusal is audited, then answered DENIED."""
        try:
            check(*args, **kwargs)
        except DeniedError as denied:
            t = self._tenancy
            self._wait(self._records.deny(t.uid, t.namespace, t.name, denied.call, denied.needed))
            raise HostCallError(
                DENIED, f"needs the permission {denied.needed}, which is not approved"
            ) from None

    @staticmethod
    def _key(key: str) -> str:
        if not key or len(key.encode()) > MAX_KEY_BYTES:
            raise HostCallError(BAD_INPUT, f"a key is 1 to {MAX_KEY_BYTES} bytes")
        return key

    def config_get(self, key: str) -> bytes | None:
        configuration = self._tenancy.configuration
        if key == "":
            return json.dumps(configuration).encode()
        return json.dumps(configuration[key]).encode() if key in configuration else None

    def storage_get(self, key: str) -> bytes | None:
        self._checked(
            self._tenancy.capabilities.storage, "storage_get", self._key(key), write=False
        )
        return self._wait(self._records.storage_get(self._tenancy.uid, key))

    def storage_put(self, key: str, value: bytes) -> None:
        self._checked(self._tenancy.capabilities.storage, "storage_put", self._key(key), write=True)
        try:
            self._wait(
                self._records.storage_put(self._tenancy.uid, key, value, self._tenancy.quota_bytes)
            )
        except QuotaExceededError as error:
            raise HostCallError(QUOTA_EXCEEDED, f"storage quota exceeded: {error}") from None

    def storage_delete(self, key: str) -> None:
        self._checked(
            self._tenancy.capabilities.storage, "storage_delete", self._key(key), write=True
        )
        self._wait(self._records.storage_delete(self._tenancy.uid, key))

    def event_emit(self, topic: str, payload: bytes) -> None:
        if not topic or len(topic) > 253:
            raise HostCallError(BAD_INPUT, "a topic is 1 to 253 characters")
        self._checked(self._tenancy.capabilities.event, topic)
        try:
            data = payload_json(payload)
        except ValueError as error:
            raise HostCallError(BAD_INPUT, str(error)) from None
        t = self._tenancy
        self._wait(self._records.emit(t.uid, t.namespace, t.name, topic, data))

    def workflow_allowed(self, name: str) -> None:
        """Whether it may start the module workflow ``name`` (refusals audited)."""
        if not name or len(name) > 128:
            raise HostCallError(BAD_INPUT, "a workflow name is 1 to 128 characters")
        self._checked(self._tenancy.capabilities.workflow, name)

    def http_fetch(self, request: bytes, timeout: float) -> bytes:
        """``{"url", "method"?, "headers"?, "body"?}`` -> ``{"status", "headers", "body"}``."""
        try:
            asked = json.loads(request)
            url, method = str(asked["url"]), str(asked.get("method", "GET")).upper()
            headers = {str(k): str(v) for k, v in dict(asked.get("headers") or {}).items()}
            body = asked.get("body")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise HostCallError(
                BAD_INPUT, 'the request must be JSON {"url", "method", "headers", "body"}'
            ) from None
        if method not in HTTP_METHODS:
            raise HostCallError(BAD_INPUT, f"method {method} is not one of {sorted(HTTP_METHODS)}")
        try:
            self._checked(self._tenancy.capabilities.network, url)
        except ValueError as error:
            raise HostCallError(BAD_INPUT, str(error)) from None
        if not self._bucket.take():
            raise HostCallError(LIMITED, "too many HTTP requests: the rate limit holds")
        content = body.encode() if isinstance(body, str) else None
        try:
            with self._http.stream(
                method, url, headers=headers, content=content, timeout=timeout
            ) as response:
                received = bytearray()
                for chunk in response.iter_bytes():
                    received += chunk
                    if len(received) > MAX_FETCH_BYTES:
                        raise HostCallError(
                            BAD_INPUT, f"the answer is over {MAX_FETCH_BYTES} bytes"
                        )
        except httpx.HTTPError as error:
            raise HostCallError(FAILED, f"{url}: {type(error).__name__}: {error}") from None
        return json.dumps(
            {
                "status": response.status_code,
                "headers": dict(response.headers),
                "body": received.decode("utf-8", errors="replace"),
            }
        ).encode()
