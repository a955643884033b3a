"""How a long-running role lives: logs, metrics, its work until SIGINT/SIGTERM, an exit status.

Why it exists: the worker and the WASM host run the same way (Kubernetes stops a pod with
SIGTERM); a bad setting found while starting exits 2 naming it, any other failure 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

from adx_modules.core import logs, metrics
from adx_modules.core.errors import SettingsError
from adx_modules.core.settings import Settings

LOG = logging.getLogger("adx_modules.service")

Serve = Callable[[Settings, asyncio.Event], Awaitable[None]]
"""A role's work: runs until the event is set."""


def serve_until_signalled(role: str, serve: Serve, settings: Settings) -> int:
    """Run ``serve`` until SIGINT/SIGTERM, metrics on ``server.metrics_port``; the exit status."""
    logs.configure(settings.server.log_format)
    metrics.serve(settings.server.metrics_port)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(settings, stop)

    code = 0
    try:
        asyncio.run(main())
    except SettingsError as error:
        print(f"adx-module-service {role}: {error}", file=sys.stderr)
        code = 2
    except Exception:
        LOG.exception("%s failed", role)
        code = 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    return code
