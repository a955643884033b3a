// node --import <adx_module_sdk>/js/register.mjs --test tests/
import assert from "node:assert/strict";
import test from "node:test";
import Invoicer from "../src/module.js";

function memorySdk() {
  const storage = new Map();
  const emitted = [];
  return {
    emitted,
    logger: { info() {} },
    storage: {
      get: async (key) => storage.get(key) ?? null,
      put: async (key, value) => void storage.set(key, value),
    },
    events: { emit: async (topic, payload) => void emitted.push([topic, payload]) },
  };
}

const ORDER = {
  id: 7,
  topic: "orders.created",
  source: "orders",
  payload: { id: "o-1", currency: "EUR", items: [{ sku: "tea", price: 4 }, { sku: "cup", price: 6 }] },
};

test("an order gets one invoice, announced each time the order is delivered", async () => {
  const sdk = memorySdk();
  const module = new Invoicer(sdk);
  await module.initialize({ prefix: "T" });
  await module.issue(ORDER);
  await module.issue(ORDER); // at least once: delivered twice
  assert.deepEqual(await module.list(), [{ number: "T-7", order: "o-1", total: 10, currency: "EUR" }]);
  assert.deepEqual(sdk.emitted, [
    ["invoices.issued", { order: "o-1", invoice: "T-7" }],
    ["invoices.issued", { order: "o-1", invoice: "T-7" }],
  ]);
});
