"""Python modules written with the SDK, as the runner's tests install them: a well-behaved one
that uses every SDK call, and the hostile routes each test provokes (on their own installation,
so a neighbour shows it is unaffected)."""

from __future__ import annotations

PROBE = '''"""probe: every SDK call, and a few things a module must not be able to do."""

import asyncio
import os
import socket

from adx_module_sdk import (
    Event, Module, PermissionDeniedError, Request, Response, SdkError, route, subscribe, workflow,
)


class Probe(Module):
    async def initialize(self, config):
        self.greeting = config.get("greeting", "hello")
        self.sdk.logger.info("initialized", extra={"fields": {"greeting": self.greeting}})

    @route("/greet", methods=("GET", "POST"))
    async def greet(self, request: Request):
        name = (request.json() or {}).get("name", "world") if request.body else "world"
        return {"message": f"{self.greeting}, {name}", "version": "VERSION", "pid": os.getpid()}

    @route("/storage", methods=("POST",))
    async def storage(self, request: Request):
        asked = request.json()
        try:
            await self.sdk.storage.put(asked["key"], asked["value"])
            return {"stored": await self.sdk.storage.get(asked["key"])}
        except SdkError as error:
            return Response(403 if isinstance(error, PermissionDeniedError) else 400,
                            {"code": error.code, "message": error.message})

    @route("/config", methods=("POST",))
    async def config(self, request: Request):
        asked = request.json()
        await self.sdk.config.set(asked["key"], asked["value"])
        return self.sdk.config.values

    @route("/fetch", methods=("POST",))
    async def fetch(self, request: Request):
        try:
            answer = await self.sdk.http.get(request.json()["url"])
            return {"status": answer.status, "body": answer.body}
        except SdkError as error:
            return Response(403, {"code": error.code, "message": error.message})

    @route("/emit", methods=("POST",))
    async def emit(self, request: Request):
        asked = request.json()
        try:
            await self.sdk.events.emit(asked["topic"], asked["payload"])
            return {"emitted": asked["topic"]}
        except SdkError as error:
            return Response(403, {"code": error.code, "message": error.message})

    @subscribe("orders.*")
    async def on_order(self, event: Event):
        seen = await self.sdk.storage.get("notes/seen") or []
        seen.append({"id": event.id, "topic": event.topic, "payload": event.payload,
                     "source": event.source})
        await self.sdk.storage.put("notes/seen", seen)

    @route("/seen")
    async def seen(self, request: Request):
        return await self.sdk.storage.get("notes/seen") or []

    @workflow("tally", timeout_seconds=20, max_attempts=2)
    async def tally(self, given):
        return {"items": len(given["items"])}

    @workflow("flaky", timeout_seconds=20, max_attempts=3)
    async def flaky(self, given):
        tries = (await self.sdk.storage.get("notes/flaky") or 0) + 1
        await self.sdk.storage.put("notes/flaky", tries)
        if tries < 2:
            raise RuntimeError(f"attempt {tries} fails on purpose")
        return {"tries": tries}

    @workflow(
        "typed",
        timeout_seconds=20,
        max_attempts=1,
        input_schema={
            "type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}
        },
        output_schema={"type": "object", "required": ["doubled"]},
    )
    async def typed(self, given):
        return {"doubled": given["n"] * 2} if given["n"] >= 0 else {"negative": True}

    @route("/jobs", methods=("POST",))
    async def start_job(self, request: Request):
        asked = request.json()
        try:
            started = await self.sdk.workflows.start(
                asked["name"],
                asked.get("input"),
                installation=asked.get("installation"),
                key=asked.get("key", ""),
            )
            return {"id": started}
        except SdkError as error:
            return Response(403, {"code": error.code, "message": error.message})

    @route("/jobs/status")
    async def job_status(self, request: Request):
        return await self.sdk.workflows.status(request.query["id"])

    @route("/read", methods=("POST",))
    async def read(self, request: Request):
        try:
            with open(request.json()["path"]) as handle:
                return {"read": handle.read(100)}
        except OSError as error:
            return Response(403, {"error": type(error).__name__, "message": str(error)})

    @route("/connect", methods=("POST",))
    async def connect(self, request: Request):
        try:
            socket.create_connection(("127.0.0.1", request.json()["port"]), timeout=2).close()
            return {"connected": True}
        except OSError as error:
            return Response(403, {"error": type(error).__name__, "message": str(error)})

    @route("/fork-bomb", methods=("POST",))
    async def fork_bomb(self, request: Request):
        children, refused = [], ""
        for _ in range(500):
            try:
                pid = os.fork()
            except OSError as error:
                refused = f"{type(error).__name__}: {error}"
                break
            if pid == 0:
                import time
                time.sleep(30)
                os._exit(0)
            children.append(pid)
        return {"forked": len(children), "refused": refused}

    @route("/memory-hog", methods=("POST",))
    async def memory_hog(self, request: Request):
        try:
            hog = bytearray(2 * 1024 * 1024 * 1024)
            return {"allocated": len(hog)}
        except MemoryError:
            return Response(507, {"error": "MemoryError"})

    @route("/crash", methods=("POST",))
    async def crash(self, request: Request):
        os._exit(3)

    @route("/spin", methods=("POST",))
    async def spin(self, request: Request):
        while True:
            pass

    @route("/udp", methods=("POST",))
    async def udp(self, request: Request):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.sendto(b"leak", ("127.0.0.1", request.json()["port"]))
            return {"sent": True}
        except OSError as error:
            return Response(403, {"error": type(error).__name__, "message": str(error)})

    @route("/db", methods=("POST",))
    async def db(self, request: Request):
        asked = request.json()
        try:
            return await self.sdk.db.query(asked["sql"], *asked.get("params", []))
        except SdkError as error:
            return Response(403 if isinstance(error, PermissionDeniedError) else 400,
                            {"code": error.code, "message": error.message})

    @route("/burn", methods=("POST",))
    async def burn(self, request: Request):
        import time
        wall = time.monotonic() + request.json()["seconds"]
        used = time.process_time()
        while time.monotonic() < wall:
            pass
        return {"cpu_seconds": time.process_time() - used}
'''


def probe(version: str = "1.0.0") -> str:
    return PROBE.replace("VERSION", version)


COUNTER = '''"""counter: counts the events it is given (what the event benchmark measures)."""

from adx_module_sdk import Event, Module, Request, route, subscribe


class Counter(Module):
    async def initialize(self, config):
        self.count = 0
        self.last = 0

    @subscribe("bench.*")
    async def counted(self, event: Event):
        self.count += 1
        self.last = event.id

    @route("/count")
    async def report(self, request: Request):
        return {"count": self.count, "last": self.last}
'''


GREETER_JS = """// greeter: a JavaScript module written with the SDK.
import { Module, PermissionDeniedError, Response } from "adx-module-sdk";
import fs from "node:fs";
import net from "node:net";

export default class Greeter extends Module {
  static routes = {
    "/greet": { methods: ["GET", "POST"], handler: "greet" },
    "/storage": { methods: ["POST"], handler: "store" },
    "/read": { methods: ["POST"], handler: "read" },
    "/connect": { methods: ["POST"], handler: "connect" },
    "/hog": { methods: ["POST"], handler: "hog" },
  };
  static subscriptions = { "orders.*": "seen" };
  static workflows = { tally: { handler: "tally", timeoutSeconds: 20, maxAttempts: 2 } };

  async initialize(config) {
    this.greeting = config.greeting ?? "hello";
  }

  async greet(request) {
    const name = request.body ? request.json().name : "world";
    this.sdk.logger.info("greeting", { name });
    return { message: `${this.greeting}, ${name}`, pid: process.pid, runtime: "node" };
  }

  async store(request) {
    const { key, value } = request.json();
    try {
      await this.sdk.storage.put(key, value);
      return { stored: await this.sdk.storage.get(key) };
    } catch (error) {
      const status = error instanceof PermissionDeniedError ? 403 : 400;
      return new Response(status, { code: error.code, message: error.message });
    }
  }

  async read(request) {
    try {
      return { read: fs.readFileSync(request.json().path, "utf8").slice(0, 100) };
    } catch (error) {
      return new Response(403, { error: error.code, message: error.message });
    }
  }

  async connect(request) {
    return await new Promise((resolve) => {
      const socket = net.connect(request.json().port, "127.0.0.1");
      socket.on("connect", () => { socket.destroy(); resolve({ connected: true }); });
      socket.on("error", (error) =>
        resolve(new Response(403, { error: error.code, message: error.message })));
    });
  }

  async hog() {
    const held = [];
    for (;;) held.push(new Array(1e6).fill(held.length));
  }

  async seen(event) {}

  async tally(input) {
    return { items: input.items.length };
  }
}
"""
