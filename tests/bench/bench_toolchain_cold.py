"""Benchmark: the toolchain built from nothing (empty Go module and build caches).

What a fresh machine pays once: downloading every module from the Go proxy and compiling
kube-apiserver, controller-manager, scheduler, etcd, kwok and helm. Run by ``make bench-cold``
(about a quarter of an hour on 2 cores).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from adx_modules.devstack.toolchain import GO_TOOLS, build_tool

sys.path.insert(0, str(Path(__file__).parent))
from report import machine, write_section


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        os.environ["GOMODCACHE"] = str(root / "gomod")
        os.environ["GOCACHE"] = str(root / "gocache")
        rows, total = [], 0.0
        for tool in GO_TOOLS:
            began = time.monotonic()
            build_tool(tool, root / "bin", log=False)
            took = time.monotonic() - began
            total += took
            rows.append(f"| {tool.name} ({', '.join(tool.binaries)}) | {took / 60:.1f} min |")
    body = "\n".join(
        [
            "## Toolchain, cold (empty Go caches)",
            "",
            f"{machine()}; downloads from the Go module proxy included.",
            "",
            "| tool | build time |",
            "| --- | --- |",
            *rows,
            f"| **total** | **{total / 60:.1f} min** |",
        ]
    )
    write_section("toolchain-cold", body)
    print(body)


if __name__ == "__main__":
    main()
