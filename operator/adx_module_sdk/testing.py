"""An SDK handle for a module's own unit tests: configuration, storage and events in memory, no
runner, no permissions checked, HTTP refused.

Why it exists: an author tests a route by calling it; the module needs ``self.sdk`` for that. This
one keeps what the module stores and emits, so a test can assert on it. Integration with the real
runner (permissions, quotas, limits) is what ``isolation: process`` installs test.
"""

from __future__ import annotations

from typing import Any

from adx_module_sdk.errors import PermissionDeniedError
from adx_module_sdk.handle import Identity, Sdk


class MemoryTransport:
    """What the runner would do, kept in dictionaries."""

    def __init__(self) -> None:
        self.settings: dict[str, Any] = {}
        self.storage: dict[str, Any] = {}
        self.emitted: list[tuple[str, Any]] = []

    async def call(self, op: str, args: dict[str, Any], seconds: float | None = None) -> Any:
        if op == "config_set":
            self.settings[args["key"]] = args["value"]
            return dict(self.settings)
        if op == "storage_get":
            return self.storage.get(args["key"])
        if op == "storage_put":
            self.storage[args["key"]] = args["value"]
            return None
        if op == "storage_delete":
            self.storage.pop(args["key"], None)
            return None
        if op == "event_emit":
            self.emitted.append((args["topic"], args["payload"]))
            return None
        raise PermissionDeniedError(f"{op} is not available in unit tests")


def sdk_for_tests(module: str, config: dict[str, Any] | None = None) -> Sdk:
    """A handle whose ``transport`` is a :class:`MemoryTransport`."""
    return Sdk(MemoryTransport(), Identity(module, "0.0.0", "test", module), dict(config or {}))
