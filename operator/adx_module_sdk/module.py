"""What a module author writes: a subclass of :class:`Module`, its lifecycle, and what it plugs
into the platform, declared beside the code that serves it.

Why it exists: the platform needs to know a module's API routes, event subscriptions, workflows,
UI and tables before it runs (the manifest's ``extensionPoints``); the runner needs the same list
to serve them. Declaring each one on the method that implements it keeps the two from drifting:
``adx-module-cli package`` reads them from the code and writes them into the manifest.

    class Greeter(Module):
        @route("/greet", methods=("POST",))
        async def greet(self, request: Request) -> dict[str, str]:
            return {"message": f"hello, {request.json()['name']}"}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from adx_module_sdk.handle import Sdk

F = TypeVar("F", bound=Callable[..., Any])
ROUTE, SUBSCRIPTION, WORKFLOW = "_adx_route", "_adx_subscription", "_adx_workflow"
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Request:
    """An HTTP request routed to the module by the runner."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Response:
    """What a route answers; a route may also return any JSON value (status 200)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """An event of the tenant's bus: ``id`` ascends, so a handler can skip what it has seen
    (delivery is at least once)."""

    id: int
    topic: str
    payload: Any
    source: str


@dataclass(frozen=True)
class RouteSpec:
    path: str
    methods: tuple[str, ...]


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    timeout_seconds: int
    max_attempts: int
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None

    def definition(self) -> dict[str, Any]:
        """As the manifest's ``extensionPoints.workflowDefinitions`` has it."""
        found: dict[str, Any] = {
            "name": self.name,
            "timeoutSeconds": self.timeout_seconds,
            "maxAttempts": self.max_attempts,
            "inputSchema": self.input_schema,
            "outputSchema": self.output_schema,
        }
        return {key: value for key, value in found.items() if value is not None}


@dataclass(frozen=True)
class UiSpec:
    """A place in the platform's UI the module fills: a ``page`` or a ``widget`` in ``slot``,
    served by ``entry``; ``props`` a JSON Schema of what the platform passes it,
    ``permissions`` the module's permissions it uses (shown only where all are approved)."""

    slot: str
    entry: str
    name: str | None = None
    type: str | None = None
    props: dict[str, Any] | None = None
    permissions: tuple[str, ...] = ()

    def point(self) -> dict[str, Any]:
        """As the manifest's ``extensionPoints.ui`` has it."""
        found: dict[str, Any] = {
            "slot": self.slot,
            "entry": self.entry,
            "name": self.name,
            "type": self.type,
            "props": self.props,
            "permissions": list(self.permissions) or None,
        }
        return {key: value for key, value in found.items() if value is not None}


def route(path: str, *, methods: tuple[str, ...] = ("GET",)) -> Callable[[F], F]:
    """Serve ``path`` (under the installation's prefix) with this method."""
    if not path.startswith("/"):
        raise ValueError(f"route {path!r}: a path starts with /")
    unknown = [m for m in methods if m.upper() not in HTTP_METHODS]
    if unknown:
        raise ValueError(f"route {path}: methods {unknown} are not among {HTTP_METHODS}")
    spec = RouteSpec(path, tuple(m.upper() for m in methods))
    return _mark(ROUTE, spec)


def subscribe(topic: str) -> Callable[[F], F]:
    """Receive the tenant's events of ``topic`` (``*`` matches any part); needs the permission
    ``event:subscribe:<topic>``."""
    return _mark(SUBSCRIPTION, topic)


def workflow(
    name: str,
    *,
    timeout_seconds: int = 300,
    max_attempts: int = 3,
    input_schema: dict[str, Any] | None = None,
    output_schema: dict[str, Any] | None = None,
) -> Callable[[F], F]:
    """A step the platform may run as a durable workflow (``workflow:execute:<name>``): each
    attempt within ``timeout_seconds``, up to ``max_attempts``; an input that does not satisfy
    ``input_schema`` (JSON Schema) is refused when the run is started, a result that does not
    satisfy ``output_schema`` fails the attempt."""
    spec = WorkflowSpec(name, timeout_seconds, max_attempts, input_schema, output_schema)
    return _mark(WORKFLOW, spec)


def _mark(attribute: str, value: object) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        setattr(function, attribute, value)
        return function

    return decorate


class Module:
    """A module's code. The runner creates it with its SDK handle, then calls ``initialize``,
    ``start``, the routes, subscriptions and workflows, ``health`` now and then, and ``stop``."""

    ui: ClassVar[list[UiSpec]] = []
    """UI slots the module fills."""
    tables: ClassVar[list[str]] = []
    """Tables the module owns in its tenant's database."""

    def __init__(self, sdk: Sdk) -> None:
        self.sdk = sdk

    async def initialize(self, config: dict[str, Any]) -> None:
        """Before anything is served: the effective configuration."""

    async def start(self) -> None:
        """Ready to serve."""

    async def stop(self) -> None:
        """Stopping (update, uninstall, the runner's shutdown): let go of what you hold."""

    async def health(self) -> str | None:
        """None when healthy, else a sentence saying what is wrong."""
        return None

    async def configuration_changed(self, config: dict[str, Any]) -> None:
        """The effective configuration changed (the spec, or a ``config.set``)."""

    @classmethod
    def _marked(cls, attribute: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in dir(cls):
            value = getattr(getattr(cls, name, None), attribute, None)
            if value is not None:
                found[name] = value
        return found

    @classmethod
    def routes(cls) -> dict[str, RouteSpec]:
        return cls._marked(ROUTE)

    @classmethod
    def subscriptions(cls) -> dict[str, str]:
        return cls._marked(SUBSCRIPTION)

    @classmethod
    def workflows(cls) -> dict[str, WorkflowSpec]:
        return cls._marked(WORKFLOW)

    @classmethod
    def extension_points(cls) -> dict[str, Any]:
        """The manifest's ``extensionPoints``, as the code declares them."""
        methods: dict[str, set[str]] = {}
        for spec in cls.routes().values():
            methods.setdefault(spec.path, set()).update(spec.methods)
        workflows = sorted(cls.workflows().values(), key=lambda spec: spec.name)
        points: dict[str, Any] = {
            "api": [{"path": path, "methods": sorted(methods[path])} for path in sorted(methods)],
            "workflows": [spec.name for spec in workflows],
            "workflowDefinitions": [spec.definition() for spec in workflows],
            "ui": [ui.point() for ui in cls.ui],
            "database": list(cls.tables),
        }
        return {key: value for key, value in points.items() if value}
