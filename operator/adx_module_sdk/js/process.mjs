// The first code of a JavaScript module's process, after the Python launcher confined it
// (adx_module_sdk/launch.py: limits, no capabilities, Landlock) and exec'd node: serve the
// runner over the inherited socket (JSON lines, calls both ways, as channel.py), load
// src/module.js on init, and answer requests, events, workflows, health and stop.
import { register } from "node:module";
import net from "node:net";
import readline from "node:readline";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Module, Request, Response, Sdk, SdkError, errorOf } from "./index.mjs";

register("./resolve.mjs", import.meta.url);
const fd = Number(process.argv[process.argv.indexOf("--fd") + 1]);
const socket = new net.Socket({ fd, readable: true, writable: true });
const waiting = new Map();
let next = 0;
let instance = null;

function send(message) {
  socket.write(JSON.stringify(message) + "\n");
}

const transport = {
  call(op, args) {
    const id = ++next;
    send({ id, op, args });
    return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
  },
};

function matches(pattern, topic) {
  const expression = "^" + pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$";
  return new RegExp(expression).test(topic);
}

async function init(args) {
  if (instance) throw new SdkError("init twice", "BadInput");
  const entry = path.join(args.package, "src", "module.js");
  let Kind;
  try {
    Kind = (await import(pathToFileURL(entry).href)).default;
    if (!(Kind && Kind.prototype instanceof Module)) {
      throw new Error("src/module.js must export a subclass of Module as its default");
    }
    const sdk = new Sdk(transport, args.identity, args.config ?? {});
    const created = new Kind(sdk);
    await created.initialize({ ...sdk.config.values });
    await created.start();
    instance = created;
  } catch (error) {
    throw new SdkError(`the module failed to start: ${error.name}: ${error.message}`, "LoadError");
  }
  const routes = Object.entries(Kind.routes ?? {}).map(([routePath, spec]) => ({
    handler: spec.handler,
    path: routePath,
    methods: (spec.methods ?? ["GET"]).map((m) => m.toUpperCase()),
  }));
  const workflows = Object.entries(Kind.workflows ?? {}).map(([name, spec]) => ({
    name,
    timeout_seconds: spec.timeoutSeconds ?? 300,
    max_attempts: spec.maxAttempts ?? 3,
    input_schema: spec.inputSchema ?? null,
    output_schema: spec.outputSchema ?? null,
  }));
  return {
    routes,
    subscriptions: Object.keys(Kind.subscriptions ?? {}).sort(),
    workflows,
    enforced: JSON.parse(process.env.ADX_ENFORCED ?? "{}"),
  };
}

async function handle(op, args) {
  if (op === "init") return init(args);
  if (!instance) throw new SdkError(`${op} before init`, "BadInput");
  const Kind = instance.constructor;
  if (op === "request") {
    const answer = await instance[args.handler](new Request(args.request));
    if (answer instanceof Response) return { status: answer.status, body: answer.body, headers: answer.headers };
    return { status: 200, body: answer ?? null, headers: {} };
  }
  if (op === "event") {
    for (const [pattern, method] of Object.entries(Kind.subscriptions ?? {})) {
      if (matches(pattern, args.event.topic)) await instance[method](args.event);
    }
    return null;
  }
  if (op === "workflow") {
    const spec = (Kind.workflows ?? {})[args.name];
    if (!spec) throw new SdkError(`no workflow ${args.name}`, "BadInput");
    return (await instance[spec.handler](args.input)) ?? null;
  }
  if (op === "health") return instance.health();
  if (op === "configure") {
    instance.sdk.config.values = { ...args.config };
    await instance.configurationChanged({ ...args.config });
    return null;
  }
  if (op === "stop") {
    await instance.stop();
    setTimeout(() => process.exit(0), 50);
    return null;
  }
  throw new SdkError(`unknown call ${op}`, "BadInput");
}

async function answer(message) {
  try {
    send({ re: message.id, result: (await handle(message.op, message.args ?? {})) ?? null });
  } catch (error) {
    const code = error instanceof SdkError ? error.code : "Failed";
    const text = error instanceof SdkError ? error.message : `${message.op}: ${error.name}: ${error.message}`;
    send({ re: message.id, error: { code, message: text } });
  }
}

readline.createInterface({ input: socket }).on("line", (line) => {
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    return;
  }
  if ("re" in message) {
    const pending = waiting.get(message.re);
    if (!pending) return;
    waiting.delete(message.re);
    if (message.error) pending.reject(errorOf(message.error.code, message.error.message));
    else pending.resolve(message.result);
  } else {
    answer(message);
  }
});
socket.on("close", () => process.exit(0));
