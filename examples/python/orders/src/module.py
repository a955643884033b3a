"""orders: takes orders over its API, announces each on the tenant's event bus, records the
invoice another module issues for it, and fulfils orders in a durable workflow.

Made with ``adx-module-cli init orders``; what it serves is declared on the methods below, and
``adx-module-cli package`` writes it into the manifest's extensionPoints. The orders are one
storage key (``orders``, an object by order id), so the module needs exactly the permissions it
names: no wildcard for a tenant to approve blind.
"""

from adx_module_sdk import (
    BadInputError,
    Event,
    Module,
    PermissionDeniedError,
    Request,
    Response,
    route,
    subscribe,
    workflow,
)


FULFIL_INPUT = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": {"type": "string", "minLength": 1}},
}
FULFIL_OUTPUT = {"type": "object", "required": ["order", "total", "currency"]}


class Orders(Module):
    async def initialize(self, config: dict) -> None:
        self.currency = config.get("currency", "EUR")

    async def _orders(self) -> dict:
        return await self.sdk.storage.get("orders") or {}

    @route("/orders", methods=("POST",))
    async def create(self, request: Request) -> Response:
        """POST {"id", "items": [{"sku", "price"}]}: stored, then announced as orders.created."""
        order = request.json() or {}
        if not isinstance(order.get("id"), str) or not isinstance(order.get("items"), list):
            return Response(400, {"error": 'an order is {"id": str, "items": [...]}'})
        order = {**order, "currency": self.currency, "status": "new"}
        try:
            await self.sdk.storage.put("orders", {**await self._orders(), order["id"]: order})
            await self.sdk.events.emit("orders.created", order)
        except PermissionDeniedError as error:  # names the permission it would take
            return Response(403, {"error": error.message})
        self.sdk.logger.info("order taken", extra={"fields": {"order": order["id"]}})
        return Response(201, order)

    @route("/orders/get")
    async def get(self, request: Request) -> Response:
        """GET ?id=: the order as it stands (its invoice once issued, its fulfilment)."""
        order = (await self._orders()).get(request.query.get("id", ""))
        return Response(200, order) if order else Response(404, {"error": "no such order"})

    @subscribe("invoices.issued")
    async def invoiced(self, event: Event) -> None:
        """An invoice for one of our orders: kept on the order. Delivery is at least once, so
        the same event twice changes nothing."""
        orders = await self._orders()
        order = orders.get(event.payload["order"])
        if order is not None and order.get("invoice") != event.payload["invoice"]:
            order["invoice"] = event.payload["invoice"]
            await self.sdk.storage.put("orders", orders)

    @route("/orders/fulfil", methods=("POST",))
    async def start_fulfilment(self, request: Request) -> Response:
        """POST {"id"}: starts the fulfil workflow, once per order (the order id is the key)."""
        order_id = (request.json() or {}).get("id", "")
        try:
            run = await self.sdk.workflows.start("fulfil", {"id": order_id}, key=order_id)
        except PermissionDeniedError as error:
            return Response(403, {"error": error.message})
        except BadInputError as error:  # e.g. not the workflow's inputSchema
            return Response(400, {"error": error.message})
        return Response(202, {"run": run})

    @route("/orders/fulfilment")
    async def fulfilment(self, request: Request) -> dict:
        """GET ?run=: RUNNING, COMPLETED with the result, or FAILED with the step's error."""
        return await self.sdk.workflows.status(request.query.get("run", ""))

    @workflow(
        "fulfil",
        timeout_seconds=30,
        max_attempts=3,
        input_schema=FULFIL_INPUT,
        output_schema=FULFIL_OUTPUT,
    )
    async def fulfil(self, given: dict) -> dict:
        """A durable step: the platform retries it (up to 3 attempts of 30 s each); an input
        without an order id is refused when the run is started."""
        orders = await self._orders()
        order = orders.get(given["id"])
        if order is None:
            raise ValueError(f"no order {given['id']}")
        total = sum(item["price"] for item in order["items"])
        orders[given["id"]] = {**order, "status": "fulfilled", "total": total}
        await self.sdk.storage.put("orders", orders)
        return {"order": given["id"], "total": total, "currency": order["currency"]}
