"""A TCP proxy between a process and the apiserver that can go silent, as a broken middlebox.

Why it exists: the operator's liveness probe must notice a watch that delivers nothing while
short requests still work, and its leader election must notice renewals that fail. A real
network path that misbehaves is the honest way to make both happen: the proxy passes TLS bytes
through untouched (the process still verifies the apiserver's certificate, issued for
127.0.0.1), and on request stops passing them, without closing anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path
from types import TracebackType

import yaml

CHUNK = 64 * 1024


class _Connection:
    def __init__(self, flowing: bool) -> None:
        self.flowing = asyncio.Event()
        if flowing:
            self.flowing.set()


class SilencingProxy:
    """``with SilencingProxy("127.0.0.1", port) as proxy:`` listens on ``proxy.port``.

    ``freeze()``: the connections open now stop passing bytes both ways (long-lived watch
    streams fall silent; new connections pass, so short requests work on); ``cut_off()``: every
    connection, open or new, passes nothing; ``thaw()``: everything passes again, with what
    waited, in order. Nothing is ever closed by the proxy itself.
    """

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._connections: set[_Connection] = set()
        self._new_flow = True
        self._server: asyncio.Server | None = None
        self.port = 0

    def __enter__(self) -> SilencingProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0), self._loop
        ).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        async def shut() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def kubeconfig(self, original: Path, path: Path) -> Path:
        """A copy of ``original`` whose clusters point at the proxy."""
        config = yaml.safe_load(original.read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        path.write_text(yaml.safe_dump(config))
        return path

    def _call(self, flowing: bool, *, new: bool | None = None) -> int:
        async def apply() -> int:
            if new is not None:
                self._new_flow = new
            for connection in self._connections:
                (connection.flowing.set if flowing else connection.flowing.clear)()
            return len(self._connections)

        return asyncio.run_coroutine_threadsafe(apply(), self._loop).result(10)

    def freeze(self) -> int:
        """Silence the connections open now (how many there were); new ones pass."""
        return self._call(False)

    def cut_off(self) -> None:
        """Silence every connection, open or new."""
        self._call(False, new=False)

    def thaw(self) -> None:
        """Let everything pass again."""
        self._call(True, new=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(self._new_flow)
        self._connections.add(connection)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            self._connections.discard(connection)
            return
        try:
            await asyncio.gather(
                self._pump(reader, upstream_writer, connection),
                self._pump(upstream_reader, writer, connection),
            )
        finally:
            self._connections.discard(connection)
            for end in (writer, upstream_writer):
                with contextlib.suppress(OSError, RuntimeError):
                    end.close()

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: _Connection
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(CHUNK):
                await connection.flowing.wait()  # silenced: the bytes wait here and upstream
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()
