"""A seccomp filter that leaves a module process no network socket of its own.

Why it exists: a module's network is ``sdk.http``, which the runner does for it after checking
the approved ``network:access:`` permissions. Landlock (ABI 4 and later) refuses TCP ``connect``
and ``bind``, but has no rule for UDP or raw sockets: without this a module could send
datagrams anywhere its pod may. The filter refuses ``socket()`` (and ``socketpair()``) for the
IP families and packet sockets with ``EPERM``, and refuses ``io_uring_setup`` (io_uring can make
sockets without the ``socket`` system call); Unix sockets stay (runtimes use them inside the
process). A system call of another architecture than the interpreter's is refused too (a 32-bit
``socketcall`` would otherwise pass). Installed after ``no_new_privs``; it survives ``execve``,
so it binds Node as well. Pure ctypes, no libseccomp.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import socket

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
X32_SYSCALL_BIT = 0x40000000
# classic BPF opcodes
LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
RET_K = 0x06  # BPF_RET | BPF_K
# struct seccomp_data: nr at 0, arch at 4, args[0] (its low 32 bits, little-endian) at 16
NR, ARCH, ARG0 = 0, 4, 16
# the architecture's audit id, and its socket, socketpair and io_uring_setup numbers
ARCHITECTURES = {
    "x86_64": (0xC000003E, 41, 53, 425),
    "aarch64": (0xC00000B7, 198, 199, 425),
}
REFUSED_FAMILIES = (socket.AF_INET, socket.AF_INET6, socket.AF_PACKET)


class SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    )


class SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter)))


def program(machine: str) -> list[tuple[int, int, int, int]] | None:
    """The filter for ``machine`` as (code, jt, jf, k), or None where it is not known."""
    if machine not in ARCHITECTURES:
        return None
    arch, nr_socket, nr_socketpair, nr_io_uring_setup = ARCHITECTURES[machine]
    refuse = SECCOMP_RET_ERRNO | errno.EPERM
    families = len(REFUSED_FAMILIES)
    # the instructions, each jump counted to the instruction it lands on
    checks = [
        (LD_W_ABS, 0, 0, ARCH),
        (JEQ_K, 1, 0, arch),  # the interpreter's architecture: go on
        (RET_K, 0, 0, refuse),
        (LD_W_ABS, 0, 0, NR),
        (JGE_K, families + 5, 0, X32_SYSCALL_BIT),  # x32 system calls: refused
        (JEQ_K, families + 4, 0, nr_io_uring_setup),
        (JEQ_K, 1, 0, nr_socket),
        (JEQ_K, 0, families + 1, nr_socketpair),  # neither: allowed
        (LD_W_ABS, 0, 0, ARG0),
    ]
    for index, family in enumerate(REFUSED_FAMILIES):
        checks.append((JEQ_K, families - index, 0, family))
    checks += [(RET_K, 0, 0, SECCOMP_RET_ALLOW), (RET_K, 0, 0, refuse)]
    return checks


def refuse_network_sockets() -> bool:
    """Install the filter on this process (and all it becomes); False where the architecture
    is not known. Needs ``no_new_privs`` first."""
    instructions = program(platform.machine())
    if instructions is None:
        return False
    filters = (SockFilter * len(instructions))(*(SockFilter(*i) for i in instructions))
    prog = SockFprog(len(instructions), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter refused")
    return True
