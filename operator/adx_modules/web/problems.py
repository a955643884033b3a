"""RFC 9457 problem documents: how every error of the API is answered.

Why it exists: a client must be able to tell its own mistake (4xx, naming the field) from the
service's (5xx) and read why in one place; every refusal of every layer (authentication, RBAC,
bad input, a purchase or review refused) is turned into the same shape here.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

PROBLEM = "application/problem+json"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class BadRequestError(ValueError):
    """The request is wrong; the message names the field (400)."""


class ConflictingError(ValueError):
    """The request is right but the object's state refuses it now; the message says why (409)."""


def problem(
    status: int, detail: str, *, retry_after: int | None = None, **extra: Any
) -> JSONResponse:
    """A problem document with ``status`` and ``detail`` (and ``Retry-After``: seconds)."""
    body = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    wait = retry_after if retry_after is not None else 5 if status == 503 else None
    headers = {"Retry-After": str(wait)} if wait is not None else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)
