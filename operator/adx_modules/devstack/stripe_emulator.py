"""``python -m adx_modules.devstack.stripe_emulator --port P --state FILE``: localstripe, on
loopback, its state in FILE.

Why it exists: localstripe as published binds every interface and keeps its state in
``/tmp/localstripe.pickle``, shared by every emulator on the machine (a test stack's and
``make run``'s would overwrite each other). This runs the same server, bound to 127.0.0.1, with
its state in the stack's own folder (written whole, then renamed, so a kill never leaves half).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m adx_modules.devstack.stripe_emulator")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args(argv)
    state: Path = args.state
    from aiohttp import web  # noqa: PLC0415
    from localstripe import resources, server  # type: ignore[import-untyped]  # noqa: PLC0415

    def load(store: Any) -> None:
        with contextlib.suppress(FileNotFoundError), state.open("rb") as handle:
            saved = pickle.load(handle)  # noqa: S301 - the emulator's own file
            store.clear()
            store.update(saved)

    def dump(store: Any) -> None:
        partial = state.with_suffix(".partial")
        with partial.open("wb") as handle:
            pickle.dump(dict(store), handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, state)

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = dump
    resources.store.try_load_from_disk()
    web.run_app(server.app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
