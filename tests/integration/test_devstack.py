"""The local stack for scripts: up in the background, a usable env file, down with nothing left."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from adx_modules.devstack.stack import read_env_file
from adx_modules.devstack.supervisor import running_pid, start_detached, stop_detached
from adx_modules.devstack.toolchain import GO_TOOLS, build_tool, cache_dir
from support.kube import Kubectl
from support.stack import stack_home


@pytest.fixture
def state_dir() -> Iterator[Path]:
    with stack_home() as home:
        yield home


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{entry.name}: {cmdline[:120]}")
    return found


def test_stack_up_writes_an_env_file_and_stack_down_leaves_no_process(state_dir: Path) -> None:
    env_file = start_detached(state_dir, timeout=300)
    try:
        env = read_env_file(env_file)
        assert set(env) >= {"KUBECONFIG", "ADX_TEMPORAL_ADDRESS", "ADX_DATABASE_URL"}
        nodes = Kubectl(Path(env["KUBECONFIG"])).json("get", "nodes")["items"]
        ready = [
            c["status"] for n in nodes for c in n["status"]["conditions"] if c["type"] == "Ready"
        ]
        assert ready == ["True"]
        assert running_pid(state_dir) is not None
        assert len(_processes_mentioning(str(state_dir))) >= 5
    finally:
        assert stop_detached(state_dir)
    assert running_pid(state_dir) is None
    assert not env_file.exists()
    assert _processes_mentioning(str(state_dir)) == []


def test_a_second_toolchain_build_does_nothing() -> None:
    bin_dir = cache_dir() / "bin"
    assert [build_tool(tool, bin_dir, log=False) for tool in GO_TOOLS] == [False] * len(GO_TOOLS)


def test_killing_the_launcher_with_sigkill_leaves_no_process_behind(
    state_dir: Path, tmp_path: Path
) -> None:
    """No cleanup code runs after SIGKILL: the children must die on their own (parent-death
    signal), and their children too (PostgreSQL backends, etcd, kwok). Matched by ancestry,
    not by command line: a PostgreSQL backend's command line names nothing of the stack."""
    env_file = state_dir / "env"
    output = tmp_path / "launcher.log"
    with output.open("wb") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "adx_modules.devstack", "up", "--state-dir", str(state_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    family: list[psutil.Process] = []
    connection: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 300
        while not env_file.exists() and time.monotonic() < deadline:
            assert launcher.poll() is None, f"the stack did not start:\n{output.read_text()}"
            time.sleep(0.5)
        assert env_file.exists()
        env = read_env_file(env_file)
        # a live PostgreSQL backend: a connection held open while the launcher is killed
        connection = subprocess.Popen(
            [sys.executable, "-c", _HOLD_A_CONNECTION, env["ADX_DATABASE_URL"]],
            stdout=subprocess.PIPE,
        )
        assert connection.stdout is not None
        assert connection.stdout.readline().strip() == b"connected"
        family = psutil.Process(launcher.pid).children(recursive=True)
        names = {p.name() for p in family}
        assert {"etcd", "kube-apiserver", "postgres", "temporal"} <= names, names
        assert sum(1 for p in family if p.name() == "postgres") >= 3  # postmaster + helpers
    finally:
        launcher.kill()
        launcher.wait(timeout=10)
    gone, alive = psutil.wait_procs(family, timeout=30)
    if connection is not None:
        connection.kill()
    assert alive == [], [f"{p.pid} {p.name()}" for p in alive]
    assert len(gone) == len(family)


_HOLD_A_CONNECTION = """
import asyncio, sys, asyncpg
async def main():
    connection = await asyncpg.connect(sys.argv[1])
    await connection.execute("SELECT 1")
    print("connected", flush=True)
    await asyncio.sleep(120)
asyncio.run(main())
"""
