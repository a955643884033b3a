"""Who calls the API, and may they: Kubernetes decides both.

Why it exists: the API must not keep users or policies of its own — RBAC is the only policy.
A bearer token is checked by a TokenReview (whoever the cluster trusts: ServiceAccount tokens,
an OIDC issuer the apiserver is configured with, ...); what the caller may do is asked by a
SubjectAccessReview on the tenant's namespace for the verb the endpoint performs, the same
question the apiserver asks of kubectl. Answers are kept for a few seconds (a busy caller does
not cost two reviews per request); a revoked token or binding takes effect within that time.
Writes are then made *as the caller* (impersonation), so the apiserver checks them once more.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from adx_modules.api.meta import GROUP
from adx_modules.clients.errors import ClientError
from adx_modules.clients.kube import KubeClient

REMEMBER_SECONDS = 10.0
V = TypeVar("V")
REMEMBERED_AT_MOST = 10_000


class AuthError(Exception):
    """Not authenticated (401) or not allowed (403); ``message`` says which and why."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Caller:
    """An authenticated caller, as the TokenReview named it."""

    user: str
    groups: tuple[str, ...]
    review: dict[str, Any]
    """The TokenReview's user (username, uid, groups, extra): what access reviews are asked for."""


class _Remembered(Generic[V]):
    """A small map whose entries are forgotten after ``REMEMBER_SECONDS``."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, V]] = {}

    def get(self, key: str) -> V | None:
        found = self._entries.get(key)
        if found is None or time.monotonic() - found[0] > REMEMBER_SECONDS:
            return None
        return found[1]

    def put(self, key: str, value: V) -> None:
        if len(self._entries) >= REMEMBERED_AT_MOST:
            self._entries.clear()
        self._entries[key] = (time.monotonic(), value)


class Authority:
    """TokenReviews and SubjectAccessReviews through the API's own Kubernetes identity."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube
        self._callers: _Remembered[Caller] = _Remembered()
        self._decisions: _Remembered[tuple[bool, str]] = _Remembered()

    async def authenticate(self, authorization: str | None) -> Caller:
        """The caller of ``Authorization: Bearer <token>``, or AuthError 401."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "send a bearer token: Authorization: Bearer <token>")
        key = hashlib.sha256(token.strip().encode()).hexdigest()
        if (known := self._callers.get(key)) is not None:
            return known
        try:
            status = await self._kube.review_token(token.strip())
        except ClientError as error:
            raise AuthError(503, f"the token cannot be checked now: {error}") from None
        if not status.get("authenticated"):
            reason = status.get("error") or "the cluster does not know this token"
            raise AuthError(401, f"the token is not valid: {reason}")
        user = status.get("user") or {}
        caller = Caller(
            user=str(user.get("username", "")), groups=tuple(user.get("groups") or ()), review=user
        )
        self._callers.put(key, caller)
        return caller

    async def authorize(
        self,
        caller: Caller,
        verb: str,
        resource: str,
        namespace: str,
        *,
        group: str = GROUP,
        name: str = "",
    ) -> None:
        """AuthError 403 unless RBAC lets ``caller`` ``verb`` ``resource`` (``purchases`` or
        ``purchases/refund``) in ``namespace`` ("": cluster-wide)."""
        kind, _, subresource = resource.partition("/")
        attributes = {"namespace": namespace, "verb": verb, "group": group, "resource": kind}
        if subresource:
            attributes["subresource"] = subresource
        if name:
            attributes["name"] = name
        key = "\0".join([caller.user, *caller.groups, *attributes.values()])
        decision = self._decisions.get(key)
        if decision is None:
            try:
                decision = await self._kube.review_access(caller.review, attributes)
            except ClientError as error:
                raise AuthError(503, f"access cannot be checked now: {error}") from None
            self._decisions.put(key, decision)
        allowed, reason = decision
        if not allowed:
            what = f"{resource}/{name}" if name else resource
            because = f" ({reason})" if reason else ""
            raise AuthError(
                403, f"{caller.user} may not {verb} {what} in namespace {namespace}{because}"
            )
