"""What a WASM module may do through the host API: its permissions, matched against each call.

Why it exists: every ``adx`` host call is checked here before it touches anything, against the
permissions the module declared *and* the tenant approved (an approval the module never asked
for grants nothing). One pure place decides, so the rule is tested alone and the host only asks.

| call | needs |
| --- | --- |
| ``storage_get`` | ``storage:read:<key pattern>`` (or ``storage:write:``, which implies it) |
| ``storage_put``, ``storage_delete`` | ``storage:write:<key pattern>`` |
| ``http_fetch`` | ``network:access:<host>`` or ``network:access:<host>:<port>`` |
| ``event_emit`` | ``event:publish:<topic pattern>`` |
| events delivered to ``on_event`` | ``event:subscribe:<topic pattern>`` |
| starting a module workflow (runner modules) | ``workflow:execute:<workflow name pattern>`` |
| ``config_get``, ``log`` | nothing: a module's own configuration and log |

Patterns use ``*`` as a wildcard (``storage:read:cache/*``, ``network:access:*.example.com``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


class DeniedError(Exception):
    """A call the permissions do not allow: ``needed`` names the permission it would take."""

    def __init__(self, call: str, needed: str) -> None:
        super().__init__(f"{call} needs the permission {needed}, which is not approved")
        self.call = call
        self.needed = needed


def effective(declared: Iterable[str], approved: Iterable[str]) -> list[str]:
    """The permissions a module holds: what it declared that the tenant approved."""
    granted = set(approved)
    return sorted(p for p in set(declared) if p in granted)


def _matches(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


@dataclass(frozen=True)
class Capabilities:
    """One installation's permissions, asked per call."""

    permissions: tuple[str, ...]

    def _targets(self, resource: str, *actions: str) -> list[str]:
        found = []
        for permission in self.permissions:
            kind, _, rest = permission.partition(":")
            action, _, target = rest.partition(":")
            if kind == resource and action in actions:
                found.append(target)
        return found

    def storage(self, call: str, key: str, *, write: bool) -> None:
        actions = ("write",) if write else ("read", "write")
        if not any(_matches(t, key) for t in self._targets("storage", *actions)):
            raise DeniedError(call, f"storage:{'write' if write else 'read'}:{key}")

    @property
    def subscriptions(self) -> list[str]:
        """The topic patterns of its ``event:subscribe:`` permissions."""
        return self._targets("event", "subscribe")

    def subscribes(self, topic: str) -> bool:
        """Whether ``event:subscribe:`` permissions let events of ``topic`` in."""
        return any(_matches(t, topic) for t in self._targets("event", "subscribe"))

    def event(self, topic: str) -> None:
        if not any(_matches(t, topic) for t in self._targets("event", "publish")):
            raise DeniedError("event_emit", f"event:publish:{topic}")

    def workflow(self, name: str) -> None:
        if not any(_matches(t, name) for t in self._targets("workflow", "execute")):
            raise DeniedError("workflow_start", f"workflow:execute:{name}")

    def network(self, url: str) -> tuple[str, int]:
        """The (host, port) of ``url`` if a ``network:access:`` permission allows it."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in DEFAULT_PORTS or not host:
            raise ValueError(f"{url!r} is not an http(s) URL with a host")
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        for target in self._targets("network", "access"):
            allowed_host, _, allowed_port = target.rpartition(":")
            if not allowed_port.isdigit() or not allowed_host:  # no port: any port
                allowed_host, allowed_port = target, ""
            if _matches(allowed_host.lower(), host) and allowed_port in ("", str(port)):
                return host, port
        raise DeniedError("http_fetch", f"network:access:{host}:{port}")
