"""The Kubernetes API, as the service uses it: custom objects and their status.

Why it exists: handlers and activities need a few typed operations (get, list, patch status)
on the three kinds without each knowing kubernetes_asyncio's calling conventions. It knows
nothing of Kopf or Temporal; credentials come from ``KUBECONFIG`` or the in-cluster account.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, cast

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from adx_modules.api.meta import GROUP, VERSION, KindInfo
from adx_modules.clients.errors import (
    ClientError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    UnavailableError,
)

MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "adx-module-operator"

# the built-in kinds the operator provisions: kind -> (API prefix, plural)
BUILTIN_KINDS: dict[str, tuple[str, str]] = {
    "ServiceAccount": ("/api/v1", "serviceaccounts"),
    "ConfigMap": ("/api/v1", "configmaps"),
    "Secret": ("/api/v1", "secrets"),
    "Service": ("/api/v1", "services"),
    "Pod": ("/api/v1", "pods"),
    "Event": ("/api/v1", "events"),
    "Deployment": ("/apis/apps/v1", "deployments"),
    "ReplicaSet": ("/apis/apps/v1", "replicasets"),
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies"),
}


def object_path(kind: str, namespace: str | None, name: str | None = None) -> str:
    """The REST path of a namespaced built-in object, of its collection in a namespace, or
    (namespace None) of the collection across every namespace."""
    try:
        prefix, plural = BUILTIN_KINDS[kind]
    except KeyError:
        raise ValueError(f"the operator does not manage {kind} objects") from None
    if namespace is None:
        return f"{prefix}/{plural}"
    path = f"{prefix}/namespaces/{namespace}/{plural}"
    return f"{path}/{name}" if name else path


def _server_message(error: ApiException) -> str:
    """The apiserver's own sentence (the Status ``message``), never headers or a raw body."""
    try:
        status = json.loads(error.body or "{}")
    except (TypeError, ValueError):
        status = {}
    message = status.get("message") if isinstance(status, dict) else None
    return str(message or error.reason or "no explanation")[:1000]


def translated(error: ApiException, what: str) -> ClientError:
    """The client error for an ApiException from ``what`` (e.g. ``PATCH Deployment x``)."""
    code = int(error.status or 0)
    message = f"{what}: {_server_message(error)}"
    if code == 404:
        return NotFoundError(message, status=code)
    if code == 409:
        return ConflictError(message, status=code)
    if code in (401, 403):
        return ForbiddenError(message, status=code)
    if code in (400, 422):
        return InvalidError(message, status=code)
    return UnavailableError(f"{what}: the Kubernetes API answered {code or 'nothing'}", status=code)


@contextlib.asynccontextmanager
async def _calling(what: str) -> AsyncIterator[None]:
    """Turn the transport's exceptions into the clients' own."""
    try:
        yield
    except ApiException as error:
        raise translated(error, what) from None
    except (TimeoutError, aiohttp.ClientError) as error:
        raise UnavailableError(f"{what}: the Kubernetes API did not answer ({error})") from None


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

    async def get_custom(
        self, kind: KindInfo, name: str, namespace: str | None = None
    ) -> dict[str, Any]:
        """One of the service's custom objects; NotFoundError if it does not exist."""
        async with _calling(f"get {kind.kind} {name}"):
            if kind.scope == "Cluster":
                found = await self._custom.get_cluster_custom_object(
                    GROUP, VERSION, kind.plural, name
                )
            else:
                found = await self._custom.get_namespaced_custom_object(
                    GROUP, VERSION, _namespace(kind, namespace), kind.plural, name
                )
        return cast(dict[str, Any], found)

    async def list_custom(
        self, kind: KindInfo, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        async with _calling(f"list {kind.plural}"):
            if kind.scope == "Cluster" or namespace is None:
                found = await self._custom.list_cluster_custom_object(GROUP, VERSION, kind.plural)
            else:
                found = await self._custom.list_namespaced_custom_object(
                    GROUP, VERSION, namespace, kind.plural
                )
        return cast(list[dict[str, Any]], found.get("items", []))

    async def _rest(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        async with _calling(f"{method} {path}"):
            result = await _call(
                self._api.call_api,
                path,
                method,
                {},
                list((query or {}).items()),
                headers,
                body=body,
                response_types_map={200: "object", 201: "object", 202: "object"},
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
                _preload_content=True,
            )
        return cast(dict[str, Any], result or {})

    async def apply(
        self, manifest: dict[str, Any], *, manager: str = FIELD_MANAGER, force: bool = True
    ) -> dict[str, Any]:
        """Server-side apply a namespaced built-in object as ``manager``."""
        metadata = manifest["metadata"]
        path = object_path(manifest["kind"], metadata["namespace"], metadata["name"])
        query = {"fieldManager": manager, "force": "true" if force else "false"}
        return await self._rest("PATCH", path, query=query, body=manifest, content_type=APPLY_PATCH)

    async def apply_custom(
        self, kind: KindInfo, manifest: dict[str, Any], *, manager: str = FIELD_MANAGER
    ) -> dict[str, Any]:
        """Server-side apply one of the service's own custom objects."""
        metadata = manifest["metadata"]
        path = f"/apis/{GROUP}/{VERSION}"
        if kind.scope != "Cluster":
            path += f"/namespaces/{_namespace(kind, metadata.get('namespace'))}"
        path += f"/{kind.plural}/{metadata['name']}"
        query = {"fieldManager": manager, "force": "true"}
        return await self._rest("PATCH", path, query=query, body=manifest, content_type=APPLY_PATCH)

    async def delete_custom(self, kind: KindInfo, name: str, namespace: str | None = None) -> bool:
        """Delete one of the service's custom objects; False if it was already gone."""
        path = f"/apis/{GROUP}/{VERSION}"
        if kind.scope != "Cluster":
            path += f"/namespaces/{_namespace(kind, namespace)}"
        try:
            await self._rest("DELETE", f"{path}/{kind.plural}/{name}")
        except NotFoundError:
            return False
        return True

    async def get_object(self, kind: str, name: str, namespace: str) -> dict[str, Any]:
        """A namespaced built-in object; NotFoundError if it does not exist."""
        return await self._rest("GET", object_path(kind, namespace, name))

    async def list_objects(
        self, kind: str, namespace: str | None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Built-in objects of one namespace, or of every namespace (None)."""
        query = {"labelSelector": label_selector} if label_selector else None
        found = await self._rest("GET", object_path(kind, namespace), query=query)
        return cast(list[dict[str, Any]], found.get("items", []))

    async def delete_object(
        self, kind: str, name: str, namespace: str, *, uid: str | None = None
    ) -> bool:
        """Delete (foreground: dependents first); False if it was already gone. With ``uid``,
        only that very object: one recreated under the same name since is left alone."""
        body: dict[str, Any] = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": "Foreground",
        }
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            await self._rest("DELETE", object_path(kind, namespace, name), body=body)
        except NotFoundError:
            return False
        except ConflictError:  # the precondition failed: another object holds the name now
            return False
        return True

    async def post_event(
        self, involved: dict[str, Any], type_: str, reason: str, message: str
    ) -> None:
        """A core/v1 Event about ``involved`` (a custom object as the apiserver returned it)."""
        metadata = involved["metadata"]
        namespace = metadata.get("namespace") or "default"
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{metadata['name']}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": metadata["name"],
                "namespace": metadata.get("namespace"),
                "uid": metadata["uid"],
                "resourceVersion": metadata.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": FIELD_MANAGER},
            "reportingComponent": FIELD_MANAGER,
            "reportingInstance": FIELD_MANAGER,
            "action": reason,
            "firstTimestamp": now[:19] + "Z",
            "lastTimestamp": now[:19] + "Z",
            "eventTime": now,
            "count": 1,
        }
        await self._rest("POST", object_path("Event", namespace), body=event)

    async def patch_status(
        self, kind: KindInfo, name: str, status: dict[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        """Merge-patch ``status`` through the status subresource."""
        body = {"status": status}
        async with _calling(f"patch status of {kind.kind} {name}"):
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
        return cast(dict[str, Any], patched)
