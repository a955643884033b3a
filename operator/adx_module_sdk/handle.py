"""The SDK handle a module holds as ``self.sdk``: logger, configuration, storage, HTTP, events,
workflows.

Why it exists: it is all a module may do outside its own memory, and every call but logging goes
to the runner, which checks it against the permissions the tenant approved and refuses with
:class:`~adx_module_sdk.errors.PermissionDeniedError` naming the permission it would take. The
module holds no credentials and opens no sockets of its own.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from adx_module_sdk.errors import BadInputError

T = TypeVar("T")


class Transport(Protocol):
    """How a call reaches the runner (a channel to it, or the runner itself for ``none``)."""

    async def call(self, op: str, args: dict[str, Any], seconds: float | None = None) -> Any: ...


@dataclass(frozen=True)
class Identity:
    """Whose code this is; the runner stamps it on every log record."""

    module: str
    version: str
    tenant: str
    installation: str


class JsonLines(logging.Formatter):
    """One JSON object per record: the runner parses it and adds the identity it knows."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {"level": record.levelname.lower(), "message": record.getMessage()}
        fields.update(getattr(record, "fields", {}))
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return json.dumps(fields, default=str)


def module_logger(identity: Identity) -> logging.Logger:
    """A structured logger; records go to stderr, which the runner reads and labels."""
    logger = logging.getLogger(f"adx.module.{identity.module}")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLines())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class Config:
    """The installation's effective configuration: the spec's values, and what the module set
    itself for keys the spec leaves out (the spec, owned by GitOps, always wins)."""

    def __init__(self, transport: Transport, values: dict[str, Any]) -> None:
        self._transport = transport
        self.values = dict(values)

    def get(self, key: str, kind: type[T], default: T | None = None) -> T | None:
        """The value of ``key`` if it is a ``kind``; BadInputError if it is something else."""
        value = self.values.get(key, default)
        if value is not None and not isinstance(value, kind):
            raise BadInputError(
                f"configuration {key} is a {type(value).__name__}, not a {kind.__name__}"
            )
        return value

    async def set(self, key: str, value: Any) -> None:
        """Persist ``value`` for this installation (in PostgreSQL, never in the spec)."""
        self.values = dict(await self._transport.call("config_set", {"key": key, "value": value}))


class Storage:
    """Key-value storage of this installation (JSON values), within its quota; keys need
    ``storage:read:<key>`` / ``storage:write:<key>``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def get(self, key: str) -> Any:
        return await self._transport.call("storage_get", {"key": key})

    async def put(self, key: str, value: Any) -> None:
        await self._transport.call("storage_put", {"key": key, "value": value})

    async def delete(self, key: str) -> None:
        await self._transport.call("storage_delete", {"key": key})


class Database:
    """The installation's own PostgreSQL schema, made from the module's ``migrations/``: SQL
    run as a database role of its own (which can reach nothing else), ``$1``-style parameters,
    at most 1000 rows back."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        rows = await self._transport.call("db_query", {"sql": sql, "params": list(params)})
        return list(rows)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """HTTP to hosts a ``network:access:<host>[:<port>]`` permission allows, rate limited, no
    redirects followed, the answer's body at most 1 MiB."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: str | None = None,
        timeout_seconds: float = 10.0,
    ) -> HttpResponse:
        args = {"method": method, "url": url, "headers": headers or {}, "body": body}
        answer = await self._transport.call("http_fetch", {**args, "timeout": timeout_seconds})
        return HttpResponse(int(answer["status"]), dict(answer["headers"]), str(answer["body"]))

    async def get(self, url: str, **kwargs: Any) -> HttpResponse:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> HttpResponse:
        return await self.request("POST", url, **kwargs)


class Events:
    """The tenant's event bus: emit needs ``event:publish:<topic>``; receive with
    :func:`~adx_module_sdk.module.subscribe`."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def emit(self, topic: str, payload: Any) -> None:
        await self._transport.call("event_emit", {"topic": topic, "payload": payload})


class Workflows:
    """Durable work: a workflow a module of the tenant declares (``@workflow``), run by the
    platform under Temporal; starting one needs ``workflow:execute:<name>``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def start(
        self, name: str, given: Any = None, *, installation: str | None = None, key: str = ""
    ) -> str:
        """Start ``name`` of ``installation`` (default: this one); its run id. The same
        ``key`` gives the same run (a retried start does not start twice)."""
        args = {"name": name, "input": given, "installation": installation, "key": key or None}
        return str(await self._transport.call("workflow_start", args))

    async def status(self, run_id: str) -> dict[str, Any]:
        """``{"id", "status": RUNNING|COMPLETED|FAILED|..., "progress"|"result"|"error"}``."""
        return dict(await self._transport.call("workflow_status", {"id": run_id}))


class Sdk:
    """Everything a module may use, for one installation."""

    def __init__(self, transport: Transport, identity: Identity, config: dict[str, Any]) -> None:
        self.identity = identity
        self.transport = transport
        self.logger = module_logger(identity)
        self.config = Config(transport, config)
        self.storage = Storage(transport)
        self.http = Http(transport)
        self.events = Events(transport)
        self.workflows = Workflows(transport)
        self.db = Database(transport)
