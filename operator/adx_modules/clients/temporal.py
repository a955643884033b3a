"""Temporal, as the service connects to it: one namespace, pydantic payloads.

Why it exists: the operator starts workflows, the worker runs them and tests inspect them; all
three must use the same data converter (pydantic models as payloads) and the same settings.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime


async def connect(
    address: str, namespace: str, *, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    """A client for ``namespace`` at ``address`` that carries pydantic models. ``lazy``
    connects on first use (the operator starts, and reports Retrying on objects, while Temporal
    is away); ``runtime`` replaces the SDK's default one (the worker's records metrics)."""
    return await Client.connect(
        address,
        namespace=namespace,
        data_converter=pydantic_data_converter,
        lazy=lazy,
        runtime=runtime,
    )
