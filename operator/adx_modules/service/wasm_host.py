"""``adx-module-service wasm-host``: the shared host that runs every tenant's WASM modules.

Why it exists: one process role per Deployment, like the operator and the worker; this one
serves :mod:`adx_modules.sandboxes.wasm.server` until SIGINT/SIGTERM, with metrics on
``server.metrics_port``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from adx_modules.core import metrics
from adx_modules.core.errors import SettingsError
from adx_modules.core.settings import Settings
from adx_modules.sandboxes.wasm.server import serve

LOG = logging.getLogger("adx_modules.wasm")


def run(settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
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
        print(f"adx-module-service wasm-host: {error}", file=sys.stderr)
        code = 2
    except Exception:
        LOG.exception("wasm host failed")
        code = 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    return code
