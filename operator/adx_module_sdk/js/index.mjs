// The ADX module SDK for JavaScript: what a Node module imports (the same surface as Python's
// adx_module_sdk). A module is the default export of src/module.js: a subclass of Module that
// declares what it serves in static fields, and uses this.sdk for everything outside its memory:
//
//   import { Module } from "adx-module-sdk";
//   export default class Greeter extends Module {
//     static routes = { "/greet": { methods: ["GET", "POST"], handler: "greet" } };
//     async greet(request) { return { message: `hello, ${request.json()?.name ?? "world"}` }; }
//   }
//
// Every call but logging goes to the runner, which checks it against the approved permissions
// and refuses with a PermissionDeniedError naming the permission it would take.

export class SdkError extends Error {
  constructor(message, code = "Failed") {
    super(message);
    this.code = code;
  }
}
export class PermissionDeniedError extends SdkError {}
export class QuotaExceededError extends SdkError {}
export class RateLimitedError extends SdkError {}
export class BadInputError extends SdkError {}
const ERRORS = {
  PermissionDenied: PermissionDeniedError,
  QuotaExceeded: QuotaExceededError,
  RateLimited: RateLimitedError,
  BadInput: BadInputError,
};

export function errorOf(code, message) {
  const Kind = ERRORS[code] ?? SdkError;
  return new Kind(message, code);
}

export class Request {
  constructor({ method, path, query = {}, headers = {}, body = "" }) {
    Object.assign(this, { method, path, query, headers, body });
  }
  json() {
    return this.body ? JSON.parse(this.body) : null;
  }
}

export class Response {
  constructor(status = 200, body = null, headers = {}) {
    Object.assign(this, { status, body, headers });
  }
}

function logger(identity) {
  const write = (level, message, fields = {}) =>
    process.stderr.write(JSON.stringify({ level, message, ...fields }) + "\n");
  return {
    info: (message, fields) => write("info", message, fields),
    warning: (message, fields) => write("warning", message, fields),
    error: (message, fields) => write("error", message, fields),
    identity,
  };
}

export class Sdk {
  // transport: { call(op, args) -> Promise }
  constructor(transport, identity, config) {
    const call = (op, args) => transport.call(op, args);
    this.identity = identity;
    this.logger = logger(identity);
    this.config = {
      values: { ...config },
      get(key, fallback = undefined) {
        return key in this.values ? this.values[key] : fallback;
      },
      async set(key, value) {
        this.values = await call("config_set", { key, value });
      },
    };
    this.storage = {
      get: (key) => call("storage_get", { key }),
      put: (key, value) => call("storage_put", { key, value }),
      delete: (key) => call("storage_delete", { key }),
    };
    this.http = {
      request: (method, url, { headers = {}, body = null, timeoutSeconds = 10 } = {}) =>
        call("http_fetch", { method, url, headers, body, timeout: timeoutSeconds }),
      get: (url, options) => this.http.request("GET", url, options),
      post: (url, options) => this.http.request("POST", url, options),
    };
    this.events = { emit: (topic, payload) => call("event_emit", { topic, payload }) };
    // the installation's own schema (from the module's migrations/): $1-style parameters
    this.db = { query: (sql, params = []) => call("db_query", { sql, params }) };
    this.workflows = {
      start: (name, input = null, { installation = null, key = null } = {}) =>
        call("workflow_start", { name, input, installation, key }),
      status: (id) => call("workflow_status", { id }),
    };
  }
}

// the fields that have a value (the manifest leaves the others out)
function defined(fields) {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== null));
}

export class Module {
  // static routes = { "/path": { methods: ["GET"], handler: "method" } }
  // static subscriptions = { "topic.*": "method" }
  // static workflows = { name: { handler: "method", timeoutSeconds: 300, maxAttempts: 3,
  //                              inputSchema: {...}, outputSchema: {...} } }
  // static ui = [{ slot, entry, name, type, props, permissions }]; static tables = ["name"]
  constructor(sdk) {
    this.sdk = sdk;
  }
  async initialize(config) {}
  async start() {}
  async stop() {}
  async health() {
    return null;
  }
  async configurationChanged(config) {}

  static extensionPoints() {
    const routes = this.routes ?? {};
    const workflows = this.workflows ?? {};
    const names = Object.keys(workflows).sort();
    const points = {
      api: Object.keys(routes).sort().map((path) => ({
        path,
        methods: [...new Set((routes[path].methods ?? ["GET"]).map((m) => m.toUpperCase()))].sort(),
      })),
      workflows: names,
      workflowDefinitions: names.map((name) =>
        defined({
          name,
          timeoutSeconds: workflows[name].timeoutSeconds ?? 300,
          maxAttempts: workflows[name].maxAttempts ?? 3,
          inputSchema: workflows[name].inputSchema,
          outputSchema: workflows[name].outputSchema,
        }),
      ),
      ui: (this.ui ?? []).map(({ slot, entry, name, type, props, permissions }) =>
        defined({ slot, entry, name, type, props, permissions: permissions?.length ? permissions : undefined }),
      ),
      database: [...(this.tables ?? [])],
    };
    return Object.fromEntries(Object.entries(points).filter(([, v]) => v.length));
  }
}
