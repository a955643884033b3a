"""The one wire between a module's process and its runner: JSON lines over a socket, calls both
ways.

Why it exists: a module in its own process has no database credentials, no network of its own
and no port: everything it does through the SDK (storage, configuration, HTTP, events, logs) is a
call to the runner, which checks the installation's permissions and does it; everything the
runner asks of the module (initialize, serve a request, deliver an event, report health, stop) is
a call the other way. Both directions share this class: a message with ``id`` asks, one with
``re`` answers, so either side may call while the other is calling.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from adx_module_sdk.errors import SdkError, error_of

MAX_MESSAGE_BYTES = 8 * 2**20  # a request or answer body is at most a few MiB
Handler = Callable[[str, dict[str, Any]], Awaitable[Any]]
LOG = logging.getLogger("adx_module_sdk.channel")


class ChannelClosedError(SdkError):
    """The other side went away (the process ended, or the runner stopped it)."""

    code = "ChannelClosed"


class Channel:
    """Calls over one stream pair; ``serve`` must run for answers to arrive."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._handler = handler
        self._next = 0
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self.closed = asyncio.Event()

    @classmethod
    async def over_socket(cls, sock: Any, handler: Handler) -> Channel:
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=MAX_MESSAGE_BYTES)
        return cls(reader, writer, handler)

    async def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"
        if len(data) > MAX_MESSAGE_BYTES:
            raise SdkError(f"a message of {len(data)} bytes is over {MAX_MESSAGE_BYTES}")
        async with self._lock:
            if self.closed.is_set():
                raise ChannelClosedError("the other side has gone")
            self._writer.write(data)
            await self._writer.drain()

    async def call(self, op: str, args: dict[str, Any], seconds: float | None = None) -> Any:
        """Ask the other side; its answer, or its error raised here."""
        self._next += 1
        ident = self._next
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        try:
            await self._send({"id": ident, "op": op, "args": args})
            return await asyncio.wait_for(future, seconds)
        finally:
            self._waiting.pop(ident, None)

    async def _answer(self, ident: int, op: str, args: dict[str, Any]) -> None:
        try:
            result = await self._handler(op, args)
            reply: dict[str, Any] = {"re": ident, "result": result}
        except SdkError as error:
            reply = {"re": ident, "error": {"code": error.code, "message": error.message}}
        except Exception as error:  # any failure is answered, never lost
            reply = {"re": ident, "error": {"code": "Failed", "message": f"{op}: {error!r}"}}
        try:
            await self._send(reply)
        except (ChannelClosedError, ConnectionError):
            return

    def _received(self, message: dict[str, Any]) -> None:
        if "re" in message:
            future = self._waiting.get(int(message["re"]))
            if future is None or future.done():
                return
            error = message.get("error")
            if error:
                future.set_exception(error_of(str(error.get("code")), str(error.get("message"))))
            else:
                future.set_result(message.get("result"))
            return
        task = asyncio.create_task(
            self._answer(int(message["id"]), str(message["op"]), dict(message.get("args") or {}))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def serve(self) -> None:
        """Read until the other side closes; then every waiting call fails ChannelClosedError."""
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                try:
                    self._received(json.loads(line))
                except (ValueError, KeyError, TypeError) as error:
                    LOG.warning("a malformed message was dropped: %s", error)
        except (ConnectionError, asyncio.LimitOverrunError, ValueError) as error:
            LOG.warning("the channel broke: %s", error)
        finally:
            self.closed.set()
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ChannelClosedError("the other side has gone"))

    async def close(self) -> None:
        self.closed.set()
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            return
