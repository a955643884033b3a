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


# What each refusal means, for the contract (docs/openapi.json); a fault of the service is 500
# and is not part of it.
REFUSALS = {
    400: "The request is wrong: `detail` names the field.",
    401: "No bearer token, or one the cluster does not know.",
    403: "Kubernetes RBAC (a SubjectAccessReview) refuses the caller this verb here.",
    404: "No such object, or none the caller may see.",
    409: "The object's state refuses the request now (taken, changed meanwhile, uninstalling).",
    413: "The request body is over server.max_body_bytes.",
    429: "Over the caller's rate, or the marketplace's own limits: see Retry-After.",
    503: "The apiserver or PostgreSQL did not answer in time: see Retry-After.",
}
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}


def with_problems(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI ``document`` saying what the API really answers when it refuses: every
    ``/api`` operation's refusals as problem documents, and no 422 (validation is a 400)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if path.startswith("/api/"):
                for status, meaning in REFUSALS.items():
                    responses[str(status)] = {
                        "description": meaning,
                        "content": {PROBLEM: {"schema": problem_ref}},
                    }
    return document
