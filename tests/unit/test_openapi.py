"""The HTTP API's contract is committed: docs/openapi.json is what the application serves."""

from __future__ import annotations

from pathlib import Path

from adx_modules.web.app import create_app, openapi_document

COMMITTED = Path(__file__).parents[2] / "docs" / "openapi.json"


def test_the_committed_openapi_document_is_the_served_one() -> None:
    assert COMMITTED.read_text() == openapi_document(), "run `make openapi` and commit the result"


def test_every_route_but_health_and_webhooks_needs_a_caller() -> None:
    document = create_app().openapi()
    for path, operations in document["paths"].items():
        for operation in operations.values():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            public = path in {"/health", "/health/ready"} or path.startswith(
                "/api/v1/marketplace/webhooks/"
            )
            assert ("authorization" in names) != public, f"{path}: {names}"
