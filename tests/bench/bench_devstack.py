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
from report import machine, write_section

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

    def row(what: str, values: list[float]) -> str:
        median, low, high = statistics.median(values), min(values), max(values)
        return f"| {what} | {median:.1f} s | {low:.1f} s | {high:.1f} s |"

    body = "\n".join(
        [
            "## Local stack (devstack)",
            "",
            f"{machine()}; {RUNS} runs, fresh state each time.",
            "",
            "| what | median | min | max |",
            "| --- | --- | --- | --- |",
            f"| toolchain check (all built) | {check:.2f} s | | |",
            row(
                "stack start (etcd, apiserver, controllers, scheduler, kwok node Ready, "
                "Temporal, PostgreSQL, CRDs)",
                starts,
            ),
            row("of which the control plane", control_planes),
            row("stack stop (nothing left running)", stops),
        ]
    )
    write_section("devstack", body)
    print(body)


if __name__ == "__main__":
    main()
