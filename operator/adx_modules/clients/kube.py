"""The Kubernetes API, as the service uses it: custom objects, their status, built-in objects.

Why it exists: handlers and activities need a few typed operations (get, list, apply, patch
status, delete) on a handful of kinds, and the answers as plain dicts: a thin REST client on
aiohttp (which Kopf already brings) does that without a generated client library, whose model
classes would cost the operator tens of MiB of memory for types it never uses. It knows nothing
of Kopf or Temporal; credentials come from :mod:`adx_modules.clients.kubeconfig`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, cast

import aiohttp
from multidict import CIMultiDict

from adx_modules import __version__
from adx_modules.api.meta import KindInfo
from adx_modules.clients.errors import (
    ConflictError,
    ExpiredError,
    NotFoundError,
    UnavailableError,
)
from adx_modules.clients.kube_paths import custom_path, object_path, translated
from adx_modules.clients.kubeconfig import Connection, connection

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "adx-module-operator"
# who is writing, in the apiserver's audit log and its metrics (Kopf's own requests say kopf/...)
USER_AGENT = f"adx-module-operator/{__version__}"
PAGE_SIZE = 500  # objects per page of a LIST
# open connections at most (requests beyond wait for one): each TLS connection holds a 256 KiB
# read buffer, and aiohttp reuses its pooled connections in turn, so a trickle of requests
# keeps every connection a burst opened alive for good (at a limit of 64, 29 stayed open after
# a start on 1,000 objects); on loopback 16 serve thousands of requests a second
CONNECTIONS = 16


class KubeClient:
    """An async client; use as ``async with await KubeClient.connect() as kube:``."""

    def __init__(self, endpoint: Connection) -> None:
        self._endpoint = endpoint
        self._acting_as: tuple[str, tuple[str, ...]] | None = None
        self._session = aiohttp.ClientSession(
            base_url=endpoint.server,
            connector=aiohttp.TCPConnector(ssl=endpoint.ssl_context(), limit=CONNECTIONS),
            timeout=aiohttp.ClientTimeout(total=60, connect=30),
            headers={"User-Agent": USER_AGENT},
        )

    @classmethod
    async def connect(cls, kubeconfig: str | None = None) -> KubeClient:
        """Credentials from ``kubeconfig``, ``KUBECONFIG`` or the in-cluster service account."""
        return cls(connection(kubeconfig))

    async def close(self) -> None:
        if self._acting_as is None:  # a view shares its client's connections
            await self._session.close()

    def impersonating(self, user: str, groups: Sequence[str] = ()) -> KubeClient:
        """This client acting as ``user`` (and ``groups``): the apiserver authorises each
        request as that identity (RBAC decides), after checking that this client's own identity
        may impersonate. A view on the same connections: closing it closes nothing."""
        view = copy.copy(self)
        view._acting_as = (user, tuple(groups))
        return view

    def _headers(self) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict(
            {"Accept": "application/json", **self._endpoint.headers()}
        )
        if self._acting_as is not None:
            user, groups = self._acting_as
            headers.add("Impersonate-User", user)
            for group in groups:
                headers.add("Impersonate-Group", group)
        return headers

    async def review_token(self, token: str) -> dict[str, Any]:
        """A TokenReview of ``token``: its status (``authenticated``, ``user`` with
        ``username``, ``uid``, ``groups``, ``extra``; ``error``)."""
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        }
        answer = await self._rest(
            "POST", "/apis/authentication.k8s.io/v1/tokenreviews", body=body, what="review a token"
        )
        return cast(dict[str, Any], answer.get("status") or {})

    async def review_access(
        self, user: dict[str, Any], attributes: dict[str, str]
    ) -> tuple[bool, str]:
        """A SubjectAccessReview: may ``user`` (a TokenReview's user) do what ``attributes``
        (namespace, verb, group, resource, name, subresource) say? (allowed, the reason)."""
        spec: dict[str, Any] = {
            "user": user.get("username", ""),
            "groups": list(user.get("groups") or []),
            "resourceAttributes": attributes,
        }
        if user.get("uid"):
            spec["uid"] = user["uid"]
        if user.get("extra"):
            spec["extra"] = user["extra"]
        answer = await self._rest(
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": spec,
            },
            what="review access",
        )
        status = answer.get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _rest(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        what: str | None = None,
    ) -> dict[str, Any]:
        """One request; the answer's JSON, or the clients' own error naming ``what``."""
        what = what or f"{method} {path}"
        headers = self._headers()
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        try:
            async with self._session.request(
                method, path, params=query, data=data, headers=headers
            ) as response:
                text = await response.text()
                if response.status >= 300:
                    raise translated(response.status, text, response.reason or "", what)
        except (TimeoutError, aiohttp.ClientError) as error:
            raise UnavailableError(f"{what}: the Kubernetes API did not answer ({error})") from None
        return cast(dict[str, Any], json.loads(text) if text else {})

    async def server_version(self) -> dict[str, Any]:
        """The apiserver's ``/version``: whether it answers, and as which release."""
        return await self._rest("GET", "/version", what="get the apiserver's version")

    async def get_custom(
        self, kind: KindInfo, name: str, namespace: str | None = None
    ) -> dict[str, Any]:
        """One of the service's custom objects; NotFoundError if it does not exist."""
        path = custom_path(kind, namespace, name)
        return await self._rest("GET", path, what=f"get {kind.kind} {name}")

    async def list_custom(
        self, kind: KindInfo, namespace: str | None = None, *, field_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Every object of one kind, in one namespace or (None) in all: paged, so a large
        catalog never arrives as one giant answer."""
        items, _ = await self.snapshot(kind, namespace, field_selector=field_selector)
        return items

    async def snapshot(
        self, kind: KindInfo, namespace: str | None = None, *, field_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """:meth:`list_custom`, and the resourceVersion a watch of what follows starts from;
        ``field_selector`` on the kind's selectable fields (``spec.module=charts``)."""
        items: list[dict[str, Any]] = []
        version = ""
        async for page, listed in self.pages(kind, namespace, field_selector=field_selector):
            items.extend(page)
            version = listed
        return items, version

    async def pages(
        self, kind: KindInfo, namespace: str | None = None, *, field_selector: str | None = None
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
        """The objects of one kind a page (500) at a time, each with the list's
        resourceVersion: a caller that digests each page never holds the whole answer."""
        path = custom_path(kind, None if kind.scope == "Cluster" else namespace)
        selected = {"fieldSelector": field_selector} if field_selector else {}
        query = {"limit": str(PAGE_SIZE), **selected}
        while True:
            page = await self._rest("GET", path, query=query, what=f"list {kind.plural}")
            metadata = page.get("metadata") or {}
            yield list(page.get("items") or []), str(metadata.get("resourceVersion") or "")
            token = metadata.get("continue")
            if not token:
                return
            query = {"limit": str(PAGE_SIZE), "continue": token, **selected}

    async def watch_custom(
        self, kind: KindInfo, resource_version: str, *, seconds: int = 240
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """The changes to every object of a custom kind after ``resource_version``, as
        (ADDED | MODIFIED | DELETED | BOOKMARK, object), until the server ends the watch
        (after about ``seconds``); ExpiredError when that version is too old (list again)."""
        what = f"watch {kind.plural}"
        query = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(seconds),
        }
        headers = self._headers()
        timeout = aiohttp.ClientTimeout(total=seconds + 30, connect=30)
        try:
            async with self._session.get(
                custom_path(kind, None), params=query, headers=headers, timeout=timeout
            ) as response:
                if response.status == 410:
                    raise ExpiredError(f"{what}: {resource_version} is too old", status=410)
                if response.status >= 300:
                    raise translated(response.status, await response.text(), "", what)
                async for line in response.content:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    body = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        code = int(body.get("code") or 0)
                        if code == 410:
                            raise ExpiredError(f"{what}: {body.get('message')}", status=410)
                        raise translated(code, json.dumps(body), "", what)
                    yield str(event.get("type")), body
        except (TimeoutError, aiohttp.ClientError) as error:
            raise UnavailableError(f"{what}: the Kubernetes API did not answer ({error})") from None

    async def apply(
        self, manifest: dict[str, Any], *, manager: str = FIELD_MANAGER, force: bool = True
    ) -> dict[str, Any]:
        """Server-side apply a namespaced built-in object as ``manager``."""
        metadata = manifest["metadata"]
        path = object_path(manifest["kind"], metadata["namespace"], metadata["name"])
        query = {"fieldManager": manager, "force": "true" if force else "false"}
        return await self._rest("PATCH", path, query=query, body=manifest, content_type=APPLY_PATCH)

    async def create_custom(
        self, kind: KindInfo, manifest: dict[str, Any], *, manager: str = FIELD_MANAGER
    ) -> dict[str, Any]:
        """Create one of the service's custom objects (ConflictError if the name is taken)."""
        metadata = manifest["metadata"]
        path = custom_path(kind, metadata.get("namespace"))
        return await self._rest(
            "POST", path, body=manifest, query={"fieldManager": manager},
            what=f"create {kind.kind} {metadata['name']}",
        )  # fmt: skip

    async def apply_custom(
        self, kind: KindInfo, manifest: dict[str, Any], *, manager: str = FIELD_MANAGER
    ) -> dict[str, Any]:
        """Server-side apply one of the service's own custom objects."""
        metadata = manifest["metadata"]
        path = custom_path(kind, metadata.get("namespace"), metadata["name"])
        query = {"fieldManager": manager, "force": "true"}
        return await self._rest("PATCH", path, query=query, body=manifest, content_type=APPLY_PATCH)

    async def patch_custom(
        self,
        kind: KindInfo,
        name: str,
        namespace: str | None,
        operations: list[dict[str, Any]],
        *,
        manager: str = FIELD_MANAGER,
    ) -> dict[str, Any]:
        """A JSON patch (RFC 6902) of one of the service's custom objects as ``manager``. An
        operation replacing ``/metadata/resourceVersion`` with the version read makes it
        conditional: ConflictError if the object changed meanwhile."""
        return await self._rest(
            "PATCH", custom_path(kind, namespace, name), body=operations,
            query={"fieldManager": manager}, content_type=JSON_PATCH,
            what=f"patch {kind.kind} {name}",
        )  # fmt: skip

    async def delete_custom(
        self, kind: KindInfo, name: str, namespace: str | None = None, *, uid: str | None = None
    ) -> bool:
        """Delete one of the service's custom objects; False if it was already gone (or, with
        ``uid``, if another object holds the name now)."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": uid}}
        try:
            await self._rest(
                "DELETE", custom_path(kind, namespace, name), body=body if uid else None
            )
        except (NotFoundError, ConflictError):
            return False
        return True

    async def get_object(self, kind: str, name: str, namespace: str) -> dict[str, Any]:
        """A namespaced built-in object; NotFoundError if it does not exist."""
        return await self._rest("GET", object_path(kind, namespace, name))

    async def create_object(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create a namespaced built-in object (ConflictError if the name is taken)."""
        metadata = manifest["metadata"]
        path = object_path(manifest["kind"], metadata["namespace"])
        what = f"create {manifest['kind']} {metadata['name']}"
        return await self._rest("POST", path, body=manifest, what=what)

    async def replace_object(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Replace (PUT) a namespaced built-in object. With ``metadata.resourceVersion`` the
        write is conditional: ConflictError if the object changed since that version."""
        metadata = manifest["metadata"]
        path = object_path(manifest["kind"], metadata["namespace"], metadata["name"])
        what = f"update {manifest['kind']} {metadata['name']}"
        return await self._rest("PUT", path, body=manifest, what=what)

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
        return await self._rest(
            "PATCH",
            custom_path(kind, namespace, name) + "/status",
            body={"status": status},
            content_type=MERGE_PATCH,
            what=f"patch status of {kind.kind} {name}",
        )
