"""The module process's seccomp filter, run by a small classic-BPF interpreter (pure logic):
IP and packet sockets, io_uring and foreign architectures are refused; the rest passes."""

from __future__ import annotations

import errno
import socket

import pytest

from adx_module_sdk import seccomp

ALLOW = seccomp.SECCOMP_RET_ALLOW
REFUSE = seccomp.SECCOMP_RET_ERRNO | errno.EPERM


def run(machine: str, arch: int, nr: int, arg0: int = 0) -> int:
    """What the kernel would answer for this system call."""
    program = seccomp.program(machine)
    assert program is not None
    data = {seccomp.NR: nr, seccomp.ARCH: arch, seccomp.ARG0: arg0}
    accumulator, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == seccomp.LD_W_ABS:
            accumulator = data[k]
        elif code == seccomp.RET_K:
            return k
        elif code == seccomp.JEQ_K:
            pc += jt if accumulator == k else jf
        elif code == seccomp.JGE_K:
            pc += jt if accumulator >= k else jf
        else:
            raise AssertionError(f"unknown opcode {code:#x}")
        pc += 1


@pytest.mark.parametrize("machine", sorted(seccomp.ARCHITECTURES))
def test_network_sockets_are_refused_and_the_rest_allowed(machine: str) -> None:
    arch, nr_socket, nr_socketpair, nr_io_uring = seccomp.ARCHITECTURES[machine]
    for family in (socket.AF_INET, socket.AF_INET6, socket.AF_PACKET):
        assert run(machine, arch, nr_socket, family) == REFUSE
        assert run(machine, arch, nr_socketpair, family) == REFUSE
    assert run(machine, arch, nr_socket, socket.AF_UNIX) == ALLOW
    assert run(machine, arch, nr_socketpair, socket.AF_UNIX) == ALLOW
    assert run(machine, arch, nr_io_uring) == REFUSE
    for other in (0, 1, 2, 59, 231):  # read, write, open(at), execve, exit_group on x86_64
        assert run(machine, arch, other, socket.AF_INET) == ALLOW


def test_system_calls_of_another_abi_are_refused() -> None:
    arch, nr_socket, _, _ = seccomp.ARCHITECTURES["x86_64"]
    i386 = 0x40000003
    assert run("x86_64", i386, 102, 1) == REFUSE  # socketcall(SYS_SOCKET) of a 32-bit program
    assert run("x86_64", arch, seccomp.X32_SYSCALL_BIT | nr_socket, socket.AF_INET) == REFUSE


def test_an_unknown_architecture_has_no_filter() -> None:
    assert seccomp.program("riscv64") is None
