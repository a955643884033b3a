"""Tenants as the API names them: a tenant is a namespace.

Why it exists: the service's API speaks of ``tenant_id``; Kubernetes of namespaces, where each
tenant's installations live and where RBAC grants what its people may do. The mapping is the
identity — ``tenant_id`` *is* the namespace's name — so there is no table to drift and kubectl
shows the same tenant the API does. An id that cannot be a namespace is refused, naming the
field; a ``tenant_id`` or ``user_id`` in a body is checked against the caller, never believed.
"""

from __future__ import annotations

import re

from adx_modules.web.auth import AuthError, Caller
from adx_modules.web.problems import BadRequestError

NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def namespace_of(tenant_id: str, field: str = "tenant_id") -> str:
    """The tenant's namespace; BadRequestError naming ``field`` when it cannot be one."""
    if not NAMESPACE.match(tenant_id):
        raise BadRequestError(
            f"{field}: {tenant_id!r} is not a tenant: a tenant is a namespace (lowercase "
            "letters, digits and '-', at most 63)"
        )
    return tenant_id


def same_user(caller: Caller, user_id: str | None) -> str:
    """The caller's user name; AuthError 403 when a body names someone else."""
    if user_id and user_id != caller.user:
        raise AuthError(
            403,
            f"user_id: {user_id!r} is not the caller ({caller.user}); it is taken from the token",
        )
    return caller.user
