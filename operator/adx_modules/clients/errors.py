"""What the clients raise: their own small tree, so nothing above them sees a transport's classes.

Why it exists: a caller decides by class, not by parsing a library's exception: absent
(``NotFoundError``), refused for good (``ConflictError``, ``ForbiddenError``, ``InvalidError``)
or worth another try (``UnavailableError``). Messages are one sentence from the server's own
explanation (the Kubernetes Status ``message``), never a dump of headers or bodies. The tree is
drawn, with the service's own errors, in :mod:`adx_modules.core.errors`.
"""

from __future__ import annotations


class ClientError(Exception):
    """A call to a service (the Kubernetes API, PostgreSQL, Temporal) did not succeed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFoundError(ClientError, LookupError):
    """The object does not exist (404)."""


class ConflictError(ClientError):
    """The object exists already, or changed under us (409)."""


class ForbiddenError(ClientError):
    """The caller may not do this (401, 403)."""


class InvalidError(ClientError):
    """The server refused the request as invalid (400, 422): e.g. an immutable field."""


class ExpiredError(ClientError):
    """A watch asked for a resourceVersion the server no longer has (410): list again."""


class UnavailableError(ClientError):
    """The server did not answer, or answered that it cannot now (429, 5xx, timeouts)."""


PERMANENT: tuple[type[ClientError], ...] = (
    NotFoundError,
    ConflictError,
    ForbiddenError,
    InvalidError,
)
"""Refusals that another try would not change."""
