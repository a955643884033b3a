"""``python -m adx_modules.devstack up|down|status|build``: the local stack for scripts.

Why it exists: the Makefile's ``stack-up``/``stack-down`` targets and CI call it; people use
``make run`` (``adx-module-service dev``), which adds the operator and the worker.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adx_modules.core.errors import DevStackError
from adx_modules.devstack.stack import default_state_dir
from adx_modules.devstack.supervisor import (
    run_foreground,
    running_pid,
    start_detached,
    stop_detached,
)
from adx_modules.devstack.toolchain import build_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adx_modules.devstack")
    parser.add_argument("command", choices=["up", "down", "status", "build"])
    parser.add_argument("--state-dir", type=Path, default=None, help="default: .cache/devstack")
    parser.add_argument("--detach", action="store_true", help="up: run in the background")
    parser.add_argument("--fresh", action="store_true", help="up: start from empty state")
    args = parser.parse_args(argv)
    state_dir: Path = (args.state_dir or default_state_dir()).resolve()
    try:
        if args.command == "build":
            print(f"toolchain ready in {build_all()}")
        elif args.command == "up" and args.detach:
            env_file = start_detached(state_dir, fresh=args.fresh)
            print(f"local stack running; environment: source {env_file}")
        elif args.command == "up":
            return run_foreground(state_dir, fresh=args.fresh)
        elif args.command == "down":
            stopped = stop_detached(state_dir)
            print("local stack stopped" if stopped else "no local stack was running")
        else:
            pid = running_pid(state_dir)
            print(f"running (pid {pid}), env: {state_dir / 'env'}" if pid else "not running")
            return 0 if pid else 1
    except DevStackError as error:
        print(f"devstack: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
