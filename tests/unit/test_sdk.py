"""The module SDK's own logic: what a module declares, typed configuration, and the channel's
calls both ways (over a real socket pair, no runner)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from typing import Any

import pytest

from adx_module_sdk import BadInputError, Module, PermissionDeniedError, UiSpec, route, workflow
from adx_module_sdk.channel import Channel, ChannelClosedError
from adx_module_sdk.confinement import user_tasks
from adx_module_sdk.module import subscribe
from adx_module_sdk.testing import sdk_for_tests
from adx_modules.api.module import ExtensionPoints

ORDER = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}


class Shop(Module):
    ui = [
        UiSpec(slot="dashboard-widget", entry="widgets/orders.js"),
        UiSpec(
            slot="main-menu",
            entry="pages/orders.js",
            name="orders",
            type="page",
            props={"type": "object", "properties": {"limit": {"type": "integer"}}},
            permissions=("storage:read:orders",),
        ),
    ]
    tables = ["orders"]

    @route("/orders", methods=("GET", "POST"))
    async def orders(self, request: Any) -> list[str]:
        return []

    @route("/orders/summary")
    async def summary(self, request: Any) -> dict[str, int]:
        return {}

    @subscribe("payments.*")
    async def paid(self, event: Any) -> None:
        return None

    @workflow("reindex", timeout_seconds=60, max_attempts=2)
    async def reindex(self, data: Any) -> None:
        return None

    @workflow("refund", input_schema=ORDER, output_schema={"type": "integer"})
    async def refund(self, data: Any) -> int:
        return 0


def test_the_code_declares_its_extension_points() -> None:
    assert Shop.extension_points() == {
        "api": [
            {"path": "/orders", "methods": ["GET", "POST"]},
            {"path": "/orders/summary", "methods": ["GET"]},
        ],
        "workflows": ["refund", "reindex"],
        "workflowDefinitions": [
            {
                "name": "refund",
                "timeoutSeconds": 300,
                "maxAttempts": 3,
                "inputSchema": ORDER,
                "outputSchema": {"type": "integer"},
            },
            {"name": "reindex", "timeoutSeconds": 60, "maxAttempts": 2},
        ],
        "ui": [
            {"slot": "dashboard-widget", "entry": "widgets/orders.js"},
            {
                "slot": "main-menu",
                "entry": "pages/orders.js",
                "name": "orders",
                "type": "page",
                "props": {"type": "object", "properties": {"limit": {"type": "integer"}}},
                "permissions": ["storage:read:orders"],
            },
        ],
        "database": ["orders"],
    }
    # what the code declares is a valid ExtensionPoints of the Module's CRD
    ExtensionPoints.model_validate(Shop.extension_points())
    assert Shop.subscriptions() == {"paid": "payments.*"}
    assert Shop.routes()["orders"].methods == ("GET", "POST")
    assert Module.extension_points() == {}


def test_a_route_is_checked_where_it_is_declared() -> None:
    with pytest.raises(ValueError, match="starts with /"):
        route("orders")
    with pytest.raises(ValueError, match="TRACE"):
        route("/orders", methods=("TRACE",))


async def test_configuration_is_typed_and_set_through_the_runner() -> None:
    sdk = sdk_for_tests("shop", {"limit": 10})
    assert sdk.config.get("limit", int) == 10
    assert sdk.config.get("missing", str, "x") == "x"
    with pytest.raises(BadInputError, match="limit is a int, not a str"):
        sdk.config.get("limit", str)
    await sdk.config.set("theme", "dark")
    assert sdk.config.values == {"theme": "dark"}
    with pytest.raises(PermissionDeniedError, match="http_fetch"):
        await sdk.http.get("https://example.com")


async def test_the_channel_calls_both_ways_and_fails_waiting_calls_when_closed() -> None:
    left_sock, right_sock = socket.socketpair()

    async def left_handler(op: str, args: dict[str, Any]) -> Any:
        if op == "deny":
            raise PermissionDeniedError("needs event:publish:x")
        return {"left": op, **args}

    async def right_handler(op: str, args: dict[str, Any]) -> Any:
        if op == "never":
            await asyncio.Event().wait()  # an answer that never comes
        # answering, the right side calls the left one back
        return await right.call("echo", {"from": op})

    left = await Channel.over_socket(left_sock, left_handler)
    right = await Channel.over_socket(right_sock, right_handler)
    serving = [asyncio.create_task(left.serve()), asyncio.create_task(right.serve())]
    assert await left.call("ask", {}) == {"left": "echo", "from": "ask"}
    with pytest.raises(PermissionDeniedError, match="event:publish:x"):
        await right.call("deny", {})
    slow = asyncio.create_task(left.call("never", {}, seconds=None))
    await asyncio.sleep(0.05)
    assert not slow.done()
    await right.close()  # the other side goes away: the waiting call fails, it does not hang
    with pytest.raises(ChannelClosedError):
        await asyncio.wait_for(slow, 5)
    for task in serving:
        task.cancel()


def test_a_users_tasks_are_counted_as_rlimit_nproc_counts_them() -> None:
    # RLIMIT_NPROC is per user: the runner allows a module this many tasks *more* than its
    # user has, so it must count every thread of every process of that user
    mine = user_tasks(os.getuid())
    assert mine >= threading.active_count() + 1  # this process's threads, and its parent's
    started = threading.Event()
    done = threading.Event()

    def idle() -> None:
        started.set()
        done.wait()

    worker = threading.Thread(target=idle)
    worker.start()
    started.wait()
    try:
        assert user_tasks(os.getuid()) >= mine + 1
    finally:
        done.set()
        worker.join()
    assert user_tasks(2**31 - 7) == 0  # a user with no process
