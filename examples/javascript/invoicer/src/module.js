// invoicer: issues an invoice for every order announced on the tenant's event bus and announces
// it in turn (invoices.issued); GET /invoices lists what it issued.
// Made with `adx-module-cli init invoicer --runtime javascript`.
import { Module } from "adx-module-sdk";

export default class Invoicer extends Module {
  static routes = { "/invoices": { methods: ["GET"], handler: "list" } };
  static subscriptions = { "orders.created": "issue" };

  async initialize(config) {
    this.prefix = config.prefix ?? "INV";
  }

  // At least once: an order seen before keeps the invoice it got, and is announced again
  // (the orders module ignores an invoice it already has). The invoices are one storage key
  // (an object by order id), so the module needs exactly the permissions it names.
  async issue(event) {
    const order = event.payload.id;
    const invoices = (await this.sdk.storage.get("invoices")) ?? {};
    let invoice = invoices[order];
    if (invoice === undefined) {
      const total = event.payload.items.reduce((sum, item) => sum + item.price, 0);
      invoice = { number: `${this.prefix}-${event.id}`, order, total, currency: event.payload.currency };
      await this.sdk.storage.put("invoices", { ...invoices, [order]: invoice });
      this.sdk.logger.info("invoice issued", { order, number: invoice.number });
    }
    await this.sdk.events.emit("invoices.issued", { order, invoice: invoice.number });
  }

  async list() {
    return Object.values((await this.sdk.storage.get("invoices")) ?? {});
  }
}
