"""A crash of a stack part, as the chaos run causes it: the process and its children are gone,
and their ports free, once ``kill`` returns."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import psutil

from adx_modules.devstack.process import ManagedProcess, free_port

LISTENER = """
import socket, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
print(child.pid, flush=True)
server = socket.socket(); server.bind(("127.0.0.1", int(sys.argv[1]))); server.listen()
time.sleep(300)
"""


def test_kill_takes_the_whole_group_and_frees_the_port(tmp_path: Path) -> None:
    port = free_port(None)
    log = tmp_path / "listener.log"
    process = ManagedProcess("listener", [sys.executable, "-c", LISTENER, str(port)], log)
    process.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not log.read_text().strip():
        time.sleep(0.05)
    child = int(log.read_text().split()[0])
    process.wait_until(lambda: _listening(port), 10, "listening")

    process.kill()

    assert not process.running()
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # free at once: a restart can listen there


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
