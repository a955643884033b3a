"""The ADX module SDK: what a module written in Python imports.

    from adx_module_sdk import Module, Request, route, subscribe, workflow

A module is one subclass of :class:`Module` in ``src/module.py`` of its package; the runner
starts it in its own confined process and gives it ``self.sdk`` (logger, config, storage, http,
events). docs/authoring.md walks through one.
"""

from adx_module_sdk.errors import (
    BadInputError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitedError,
    SdkError,
)
from adx_module_sdk.handle import HttpResponse, Sdk
from adx_module_sdk.module import (
    Event,
    Module,
    Request,
    Response,
    UiSpec,
    route,
    subscribe,
    workflow,
)

__all__ = [
    "BadInputError",
    "Event",
    "HttpResponse",
    "Module",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitedError",
    "Request",
    "Response",
    "Sdk",
    "SdkError",
    "UiSpec",
    "route",
    "subscribe",
    "workflow",
]
