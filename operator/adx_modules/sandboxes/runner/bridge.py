"""What a runner module asks of the platform, decided by its installation's host API.

Why it exists: an SDK call (storage, configuration, HTTP, events) arrives as ``(op, args)``,
over a module process's socket or, for a trusted module, straight from its SDK handle; either
way it is checked and done by the same
:class:`~adx_modules.sandboxes.wasm.hostapi.InstallationHostApi` a WASM module's calls go
through, so a permission means the same whatever runs the module. The host API blocks, so calls
run in threads; its refusals become the SDK's errors.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from adx_module_sdk.errors import (
    BadInputError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitedError,
    SdkError,
)
from adx_modules.sandboxes.runner.flows import WorkflowStarter
from adx_modules.sandboxes.wasm.abi import BAD_INPUT, DENIED, LIMITED, QUOTA_EXCEEDED, HostCallError
from adx_modules.sandboxes.wasm.hostapi import InstallationHostApi

ERRORS: dict[int, type[SdkError]] = {
    DENIED: PermissionDeniedError,
    QUOTA_EXCEEDED: QuotaExceededError,
    LIMITED: RateLimitedError,
    BAD_INPUT: BadInputError,
}
SettingsOf = Callable[[str, Any], Awaitable[dict[str, Any]]]
# why an input is no input of a workflow: (target installation, workflow, input) -> problems
InputProblems = Callable[[str, str, Any], list[str]]
# the installation's own database: (sql, params) -> rows
Database = Callable[[str, list[Any]], Awaitable[list[dict[str, Any]]]]
"""Persist the module's own setting; answer the effective configuration."""


class HostBridge:
    """One installation's SDK calls (the SDK's :class:`~adx_module_sdk.handle.Transport`)."""

    def __init__(
        self,
        api: InstallationHostApi,
        settings_of: SettingsOf,
        caller: tuple[str, str],
        *,
        workflows: WorkflowStarter | None = None,
        input_problems: InputProblems | None = None,
        database: Database | None = None,
    ) -> None:
        self._api = api
        self._settings_of = settings_of
        self._namespace, self._caller = caller
        self._workflows = workflows
        self._input_problems = input_problems
        self._database = database

    async def call(self, op: str, args: dict[str, Any], seconds: float | None = None) -> Any:
        api = self._api
        try:
            if op == "config_set":
                return await self._settings_of(str(args["key"]), args.get("value"))
            if op == "storage_get":
                data = await asyncio.to_thread(api.storage_get, str(args["key"]))
                return None if data is None else json.loads(data)
            if op == "storage_put":
                value = json.dumps(args.get("value")).encode()
                await asyncio.to_thread(api.storage_put, str(args["key"]), value)
                return None
            if op == "storage_delete":
                await asyncio.to_thread(api.storage_delete, str(args["key"]))
                return None
            if op == "event_emit":
                payload = json.dumps(args.get("payload")).encode()
                await asyncio.to_thread(api.event_emit, str(args["topic"]), payload)
                return None
            if op == "db_query":
                if self._database is None:
                    raise SdkError("module databases are not available in this runner")
                params = args.get("params") or []
                if not isinstance(params, list):
                    raise BadInputError("db_query: params is a list")
                return await self._database(str(args["sql"]), params)
            if op in ("workflow_start", "workflow_status"):
                return await self._workflow(op, args)
            if op == "http_fetch":
                asked = {k: v for k, v in args.items() if k != "timeout"}
                timeout = float(args.get("timeout", 10.0))
                answer = await asyncio.to_thread(
                    api.http_fetch, json.dumps(asked).encode(), timeout
                )
                return json.loads(answer)
        except HostCallError as error:
            raise ERRORS.get(error.code, SdkError)(error.message) from None
        except (KeyError, TypeError, ValueError) as error:
            raise BadInputError(f"{op}: malformed arguments ({error})") from None
        raise BadInputError(f"{op} is not an SDK call")

    async def _workflow(self, op: str, args: dict[str, Any]) -> Any:
        if self._workflows is None:
            raise SdkError("module workflows are not available: the runner has no Temporal")
        if op == "workflow_status":
            return await self._workflows.status(self._namespace, str(args["id"]))
        name = str(args["name"])
        await asyncio.to_thread(self._api.workflow_allowed, name)
        target = str(args.get("installation") or self._caller)
        problems = (
            self._input_problems(target, name, args.get("input")) if self._input_problems else []
        )
        if problems:
            raise BadInputError(f"workflow {name}: " + "; ".join(problems))
        return await self._workflows.start(
            self._namespace,
            self._caller,
            name,
            args.get("input"),
            installation=args.get("installation"),
            key=args.get("key"),
        )
