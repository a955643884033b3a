"""The example modules of ``examples/``, as a tenant meets them: packaged and published with the
author CLI, installed with ``isolation: process`` from their own ``installation.yaml``, and
called. The Python module takes an order and announces it; the JavaScript module, hearing it,
issues an invoice and announces that; the order then carries its invoice; the order is fulfilled
by the module's durable workflow. Module ids get the test's suffix (Modules are cluster-wide).
That they are scanned clean is ``test_scanning_e2e``'s (this session's pair does not scan)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from support.examples import publish_example
from support.kube import Kubectl
from support.objects import wait_phase
from support.stack import StackInfo

pytestmark = pytest.mark.usefixtures("operator", "worker", "runner")


def install_example(
    kubectl: Kubectl, stack: StackInfo, example: str, unique: str, work: Path
) -> str:
    """Package, publish and install ``examples/<example>``; its route endpoint once Active."""
    module, directory = publish_example(kubectl, stack, example, unique, work)
    kubectl("wait", f"module/{module['metadata']['name']}", "--for=condition=Ready")
    installation = yaml.safe_load((directory / "installation.yaml").read_text())
    installation["spec"]["module"] = module["spec"]["moduleId"]
    kubectl.apply(installation)
    name = installation["metadata"]["name"]
    active = wait_phase(kubectl, f"mi/{name}", "Active", timeout=120)
    assert active["status"]["isolation"] == "process"
    return str(active["status"]["endpoints"][0]["url"])


async def eventually(client: httpx.AsyncClient, url: str, done: Any) -> Any:
    body: Any = None
    for _ in range(120):
        answer = await client.get(url)
        body = answer.json()
        if answer.status_code == 200 and done(body):
            return body
        await asyncio.sleep(0.5)
    raise AssertionError(f"{url} never got there: {body}")


async def test_the_examples_take_invoice_and_fulfil_an_order(
    kubectl: Kubectl, stack: StackInfo, unique: str, tmp_path: Path
) -> None:
    orders = install_example(kubectl, stack, "python/orders", unique, tmp_path)
    invoicer = install_example(kubectl, stack, "javascript/invoicer", unique, tmp_path)
    order = {"id": "o-1", "items": [{"sku": "tea", "price": 4}, {"sku": "cup", "price": 6}]}
    async with httpx.AsyncClient(timeout=30) as client:
        taken = await client.post(f"{orders}/orders", json=order)
        assert taken.status_code == 201, taken.text
        assert taken.json()["currency"] == "EUR"  # its installation's configuration
        malformed = await client.post(f"{orders}/orders", json={"id": 1})
        assert malformed.status_code == 400
        invoices = await eventually(client, f"{invoicer}/invoices", bool)
        assert [(i["order"], i["total"]) for i in invoices] == [("o-1", 10)]
        number = invoices[0]["number"]
        invoiced = await eventually(client, f"{orders}/orders/get?id=o-1", lambda o: "invoice" in o)
        assert invoiced["invoice"] == number
        # the workflow's inputSchema holds at the start: no run for an empty order id
        refused = await client.post(f"{orders}/orders/fulfil", json={"id": ""})
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == ("workflow fulfil: input.id: '' should be non-empty")
        started = await client.post(f"{orders}/orders/fulfil", json={"id": "o-1"})
        assert started.status_code == 202, started.text
        run = started.json()["run"]
        state = await eventually(
            client, f"{orders}/orders/fulfilment?run={run}", lambda s: s["status"] != "RUNNING"
        )
        assert state["status"] == "COMPLETED", state
        assert state["result"] == {"order": "o-1", "total": 10, "currency": "EUR"}
        fulfilled = (await client.get(f"{orders}/orders/get?id=o-1")).json()
        assert (fulfilled["status"], fulfilled["invoice"]) == ("fulfilled", number)
    kubectl("delete", "mi", "orders", "invoicer", "--timeout=120s")
