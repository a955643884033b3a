"""The Kubernetes API, as the service uses it: custom objects and their status.

Why it exists: handlers and activities need a few typed operations (get, list, patch status)
on the three kinds without each knowing kubernetes_asyncio's calling conventions. It knows
nothing of Kopf or Temporal; credentials come from ``KUBECONFIG`` or the in-cluster account.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, cast

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from adx_modules.api.meta import GROUP, VERSION, KindInfo

MERGE_PATCH = "application/merge-patch+json"


class NotFoundError(LookupError):
    """The object does not exist."""


def _namespace(kind: KindInfo, namespace: str | None) -> str:
    if namespace is None:
        raise ValueError(f"{kind.kind} is namespaced: a namespace is required")
    return namespace


async def _call(method: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    """Call a generated API method with options its signature does not declare."""
    return await method(*args, **kwargs)


class KubeClient:
    """An async client; use as ``async with await KubeClient.connect() as kube:``."""

    def __init__(self, api: client.ApiClient) -> None:
        self._api = api
        self._custom = client.CustomObjectsApi(api)

    @classmethod
    async def connect(cls, kubeconfig: str | None = None) -> KubeClient:
        """Credentials from ``kubeconfig``, ``KUBECONFIG`` or the in-cluster service account."""
        configuration = client.Configuration()
        path = kubeconfig or os.environ.get("KUBECONFIG")
        if path:
            await config.load_kube_config(config_file=path, client_configuration=configuration)
        else:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        return cls(client.ApiClient(configuration))

    async def close(self) -> None:
        await self._api.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def get(self, kind: KindInfo, name: str, namespace: str | None = None) -> dict[str, Any]:
        try:
            if kind.scope == "Cluster":
                found = await self._custom.get_cluster_custom_object(
                    GROUP, VERSION, kind.plural, name
                )
            else:
                found = await self._custom.get_namespaced_custom_object(
                    GROUP, VERSION, _namespace(kind, namespace), kind.plural, name
                )
        except ApiException as error:
            if error.status == 404:
                raise NotFoundError(f"{kind.kind} {name} not found") from error
            raise
        return cast(dict[str, Any], found)

    async def list(self, kind: KindInfo, namespace: str | None = None) -> list[dict[str, Any]]:
        if kind.scope == "Cluster" or namespace is None:
            found = await self._custom.list_cluster_custom_object(GROUP, VERSION, kind.plural)
        else:
            found = await self._custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, kind.plural
            )
        return cast(list[dict[str, Any]], found.get("items", []))

    async def patch_status(
        self, kind: KindInfo, name: str, status: dict[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        """Merge-patch ``status`` through the status subresource."""
        body = {"status": status}
        try:
            if kind.scope == "Cluster":
                patched = await _call(
                    self._custom.patch_cluster_custom_object_status,
                    GROUP,
                    VERSION,
                    kind.plural,
                    name,
                    body,
                    _content_type=MERGE_PATCH,
                )
            else:
                patched = await _call(
                    self._custom.patch_namespaced_custom_object_status,
                    GROUP,
                    VERSION,
                    _namespace(kind, namespace),
                    kind.plural,
                    name,
                    body,
                    _content_type=MERGE_PATCH,
                )
        except ApiException as error:
            if error.status == 404:
                raise NotFoundError(f"{kind.kind} {name} not found") from error
            raise
        return cast(dict[str, Any], patched)
