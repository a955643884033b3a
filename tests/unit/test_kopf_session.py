"""Kopf's session: listed objects lose only the leaves of their field managers, and who last
changed a spec still reads the same from them."""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adx_modules.installations.handlers import actor
from adx_modules.service.kopf_session import ListTrimmingResponse, trim_managed_fields


def _installation() -> dict[str, Any]:
    leaf: dict[str, Any] = {".": {}, "f:status": {}, "f:type": {}, "f:message": {}}
    return {
        "apiVersion": "modules.adxcore.com/v1alpha1",
        "kind": "ModuleInstallation",
        "metadata": {
            "name": "charts",
            "namespace": "tenant-a",
            "uid": "7ab2d8da-9a4c-4412-9c92-f44c98ba6062",
            "managedFields": [
                {
                    "manager": "argocd-controller",
                    "operation": "Apply",
                    "time": "2026-12-02T03:33:52Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:module": {}, "f:version": {}}},
                },
                {
                    "manager": "kopf",
                    "operation": "Update",
                    "time": "2026-12-02T03:33:53Z",
                    "fieldsV1": {"f:metadata": {"f:finalizers": {".": {}}}},
                },
                {
                    "manager": "alice",
                    "operation": "Update",
                    "time": "2026-12-02T03:40:00Z",
                    "fieldsV1": {"f:spec": {"f:version": {}}, "f:metadata": {"f:labels": {}}},
                },
                {
                    "manager": "adx-module-operator",
                    "operation": "Update",
                    "subresource": "status",
                    "time": "2026-12-02T03:41:00Z",
                    "fieldsV1": {"f:status": {"f:conditions": {'k:{"type":"Ready"}': leaf}}},
                },
            ],
        },
        "spec": {"module": "charts", "version": "^1.0"},
        "status": {"phase": "Installing"},
    }


def test_a_trimmed_body_keeps_each_managers_identity_and_top_level_fields() -> None:
    body = _installation()
    trim_managed_fields(body)
    entries = body["metadata"]["managedFields"]
    assert [e["fieldsV1"] for e in entries] == [
        {"f:spec": {}},
        {"f:metadata": {}},
        {"f:spec": {}, "f:metadata": {}},
        {"f:status": {}},
    ]
    assert [(e["manager"], e["operation"], e["time"]) for e in entries] == [
        (m["manager"], m["operation"], m["time"])
        for m in _installation()["metadata"]["managedFields"]
    ]
    assert entries[3]["subresource"] == "status"
    assert {k: v for k, v in body.items() if k != "metadata"} == {
        k: v for k, v in _installation().items() if k != "metadata"
    }


def test_who_last_changed_the_spec_reads_the_same_from_a_trimmed_body() -> None:
    full = _installation()
    trimmed = copy.deepcopy(full)
    trim_managed_fields(trimmed)
    assert actor(full) == actor(trimmed) == "alice"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"metadata": None},
        {"metadata": {"managedFields": None}},
        {"metadata": {"managedFields": ["not an entry", {"manager": "x"}]}},
        {"metadata": {"managedFields": [{"manager": "x", "fieldsV1": "not fields"}]}},
        "not an object",
    ],
)
def test_odd_bodies_are_left_as_they_are(body: Any) -> None:
    before = copy.deepcopy(body)
    trim_managed_fields(body)
    assert body == before


async def test_only_a_lists_items_are_trimmed_on_the_wire() -> None:
    """Through a real HTTP answer: a LIST's items are trimmed, a single object is not."""

    async def listed_answer(_: web.Request) -> web.Response:
        return web.json_response({"kind": "ModuleInstallationList", "items": [_installation()]})

    async def one_answer(_: web.Request) -> web.Response:
        return web.json_response(_installation())

    app = web.Application()
    app.router.add_get("/list", listed_answer)
    app.router.add_get("/one", one_answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession(response_class=ListTrimmingResponse) as session:
            async with session.get(f"http://127.0.0.1:{port}/list") as response:
                listed = await response.json()
            async with session.get(f"http://127.0.0.1:{port}/one") as response:
                one = await response.json()
    finally:
        await runner.cleanup()
    assert listed["items"][0]["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {}}
    assert one == _installation()
