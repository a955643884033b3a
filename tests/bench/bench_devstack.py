"""Benchmark: how long the local stack takes to build (checked), start and stop.

Run by ``make bench``; the cold toolchain build is measured by ``make bench-cold`` (it needs
empty Go caches, so it is not part of the routine run).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from adx_modules.devstack.stack import DevStack
from adx_modules.devstack.toolchain import build_all

sys.path.insert(0, str(Path(__file__).parent))
from report import machine, write_section  # noqa: E402

RUNS = 5


def main() -> None:
    started = time.monotonic()
    build_all()
    check = time.monotonic() - started
    starts, stops, control_planes = [], [], []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as state:
            stack = DevStack(Path(state))
            began = time.monotonic()
            stack.start()
            starts.append(time.monotonic() - began)
            control_planes.append(stack.times.control_plane)
            began = time.monotonic()
            stack.stop()
            stops.append(time.monotonic() - began)
    body = f"""## Local stack (devstack)

{machine()}; {RUNS} runs, fresh state each time.

| what | median | min | max |
| --- | --- | --- | --- |
| toolchain check (all built) | {check:.2f} s | | |
| stack start (etcd, apiserver, controllers, scheduler, kwok node Ready, Temporal, PostgreSQL, CRDs) | {statistics.median(starts):.1f} s | {min(starts):.1f} s | {max(starts):.1f} s |
| of which the control plane | {statistics.median(control_planes):.1f} s | {min(control_planes):.1f} s | {max(control_planes):.1f} s |
| stack stop (nothing left running) | {statistics.median(stops):.1f} s | {min(stops):.1f} s | {max(stops):.1f} s |
"""
    write_section("devstack", body)
    print(body)


if __name__ == "__main__":
    main()
