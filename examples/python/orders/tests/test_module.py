import asyncio

from adx_module_sdk import Event, Request
from adx_module_sdk.testing import sdk_for_tests
from module import Orders

ORDER = '{"id": "o-1", "items": [{"sku": "tea", "price": 4}, {"sku": "cup", "price": 6}]}'


def test_an_order_is_stored_announced_invoiced_and_fulfilled() -> None:
    sdk = sdk_for_tests("orders")
    module = Orders(sdk)
    asyncio.run(module.initialize({"currency": "CHF"}))
    taken = asyncio.run(module.create(Request(method="POST", path="/orders", body=ORDER)))
    assert taken.status == 201
    assert sdk.transport.emitted == [("orders.created", taken.body)]
    invoice = Event(id=1, topic="invoices.issued", payload={"order": "o-1", "invoice": "INV-1"},
                    source="invoicer")
    asyncio.run(module.invoiced(invoice))
    asyncio.run(module.invoiced(invoice))  # delivered twice: the same result
    assert asyncio.run(module.fulfil({"id": "o-1"})) == {
        "order": "o-1", "total": 10, "currency": "CHF"
    }
    order = sdk.transport.storage["orders"]["o-1"]
    assert (order["invoice"], order["status"]) == ("INV-1", "fulfilled")


def test_a_malformed_order_is_refused() -> None:
    module = Orders(sdk_for_tests("orders"))
    asyncio.run(module.initialize({}))
    refused = asyncio.run(module.create(Request(method="POST", path="/orders", body='{"id": 1}')))
    assert refused.status == 400
