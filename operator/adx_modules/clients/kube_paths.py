"""Where each kind lives in the Kubernetes REST API, and the apiserver's refusals as errors.

Why it exists: the paths and the translation of an answer's status code into the client's own
errors (``clients/errors.py``) are pure; kept apart from the HTTP client (``clients/kube.py``),
they are read and tested without a connection.
"""

from __future__ import annotations

import json

from adx_modules.api.meta import GROUP, VERSION, KindInfo
from adx_modules.clients.errors import (
    ClientError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    UnavailableError,
)

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
    "PodMetrics": ("/apis/metrics.k8s.io/v1beta1", "pods"),  # where metrics-server runs
    "Lease": ("/apis/coordination.k8s.io/v1", "leases"),  # the operator's leader election
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


def _server_message(body: str, reason: str) -> str:
    """The apiserver's own sentence (the Status ``message``), never headers or a raw body."""
    try:
        status = json.loads(body or "{}")
    except ValueError:
        status = {}
    message = status.get("message") if isinstance(status, dict) else None
    return str(message or reason or "no explanation")[:1000]


def translated(code: int, body: str, reason: str, what: str) -> ClientError:
    """The client error for an answer ``code`` to ``what`` (e.g. ``PATCH /apis/...``)."""
    message = f"{what}: {_server_message(body, reason)}"
    if code == 404:
        return NotFoundError(message, status=code)
    if code == 409:
        return ConflictError(message, status=code)
    if code in (401, 403):
        return ForbiddenError(message, status=code)
    if code in (400, 422):
        return InvalidError(message, status=code)
    return UnavailableError(f"{what}: the Kubernetes API answered {code or 'nothing'}", status=code)


def _namespace(kind: KindInfo, namespace: str | None) -> str:
    if namespace is None:
        raise ValueError(f"{kind.kind} is namespaced: a namespace is required")
    return namespace


def custom_path(kind: KindInfo, namespace: str | None, name: str | None = None) -> str:
    """The REST path of one of the service's custom objects, or of their collection (across
    every namespace when ``namespace`` is None)."""
    path = f"/apis/{GROUP}/{VERSION}"
    if kind.scope != "Cluster" and (namespace is not None or name is not None):
        path += f"/namespaces/{_namespace(kind, namespace)}"
    path += f"/{kind.plural}"
    return f"{path}/{name}" if name else path
