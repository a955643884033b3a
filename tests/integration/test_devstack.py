"""The local stack for scripts: up in the background, a usable env file, down with nothing left."""

from __future__ import annotations

import os
from pathlib import Path

from adx_modules.devstack.stack import read_env_file
from adx_modules.devstack.supervisor import running_pid, start_detached, stop_detached
from adx_modules.devstack.toolchain import GO_TOOLS, build_tool, cache_dir
from support.kube import Kubectl


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


def test_stack_up_writes_an_env_file_and_stack_down_leaves_no_process(tmp_path: Path) -> None:
    state_dir = tmp_path / "stack"
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
