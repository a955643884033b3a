"""What a module's process does to itself before it loads the module's code: limits it cannot
raise again, no capabilities, and (where the kernel has Landlock) no file or TCP access beyond
what it was given.

Why it exists: ``process`` isolation promises that a module cannot take the machine's memory,
processes or files, nor reach the network except through the SDK. The runner starts the process
with a stripped environment in its own working directory; this module, run first inside it,
narrows the rest. Everything here is irreversible for the process and its children, and needs no
privilege: rlimits can only be lowered, capabilities only dropped, a Landlock domain only
narrowed. What the kernel does not offer is reported, not faked: :func:`confine` answers with
what it enforced.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from adx_module_sdk.seccomp import refuse_network_sockets

# Landlock (linux/landlock.h); the three syscalls share their numbers on x86_64 and arm64
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_TRUNCATE, FS_IOCTL_DEV = 1 << 14, 1 << 15
FILE_ONLY = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = (
    1,
    38,
    24,
    47,
    4,
)
READ_ONLY = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
SYSTEM_READABLE = (
    "/usr",
    "/lib",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/ssl",  # public certificates and OpenSSL's configuration (node reads it at start)
    "/dev/urandom",
)
SYSTEM_WRITABLE = ("/dev/null",)


class ConfinementError(Exception):
    """The process could not be confined as asked; it must not run the module."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one module process."""

    memory_bytes: int
    open_files: int = 256
    processes: int = 32
    file_bytes: int = 64 * 2**20


@dataclass(frozen=True)
class Confinement:
    limits: Limits
    workdir: str
    readable: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()
    pids_cgroup: str | None = None
    """A cgroup (its directory) whose pids.max bounds the processes, joined first."""
    cpu_cgroup: str | None = None
    """A cgroup whose CPU bandwidth (cpu.max, cpu.cfs_quota_us) bounds its CPU, joined first."""


@dataclass
class Enforced:
    """What the kernel enforces for this process, said in the module's health."""

    landlock_abi: int = 0
    filesystem: bool = False
    network: bool = False
    signals: bool = False
    process_limit: str = ""
    cpu_limit: str = ""
    network_sockets: bool = True
    """False once the seccomp filter refuses it IP and packet sockets (seccomp.py)."""
    notes: list[str] = field(default_factory=list)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when it has none (or it is disabled)."""
    answer = _libc().syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), CREATE_RULESET_VERSION)
    return max(int(answer), 0)


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # EXECUTE .. MAKE_SYM (ABI 1)
    if abi >= 2:
        rights |= 1 << 13  # REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def _landlock(abi: int, readable: list[str], writable: list[str], enforced: Enforced) -> None:
    libc = _libc()
    handled = _fs_rights(abi)
    attr = _RulesetAttr(handled, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0, 0)
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        raise ConfinementError(f"landlock_create_ruleset: {os.strerror(ctypes.get_errno())}")
    try:
        for paths, rights in ((readable, READ_ONLY), (writable, handled)):
            for path in paths:
                _allow(libc, ruleset, path, rights)
        if libc.syscall(SYS_RESTRICT_SELF, ruleset, 0) != 0:
            raise ConfinementError(f"landlock_restrict_self: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(ruleset)
    enforced.filesystem, enforced.network, enforced.signals = True, abi >= 4, abi >= 6


def _allow(libc: ctypes.CDLL, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # nothing there to allow
    try:
        if not os.path.isdir(path):
            rights &= FILE_ONLY
        rule = _PathBeneath(rights, fd)
        if libc.syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), 0) != 0:
            raise ConfinementError(f"landlock_add_rule {path}: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


def _drop_capabilities() -> None:
    """No capability left, none to regain: a module running as root keeps uid 0's files
    (which Landlock then narrows) but none of root's powers."""
    libc = _libc()
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable x 2: all empty
    if libc.capset(header, data) != 0:
        raise ConfinementError(f"capset: {os.strerror(ctypes.get_errno())}")


def _limit(which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(which, (value, value))


def runtime_paths() -> list[str]:
    """What the interpreter needs to read: its own prefixes and import path, and the system's
    libraries."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, *SYSTEM_READABLE}
    paths.update(p for p in sys.path if p and os.path.exists(p))
    return sorted(paths)


def user_tasks(uid: int) -> int:
    """How many tasks (threads included, as RLIMIT_NPROC counts them) the user ``uid`` has."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
        except OSError:
            continue  # ended meanwhile
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            count += int(fields.get("Threads", "1").strip())
    return count


def die_with_parent() -> None:
    """SIGKILL this process when the runner that started it dies (a killed runner leaves no
    module behind); if it has died already, end now."""
    parent = os.getppid()
    _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _cpu_share(group: Path) -> str:
    """The cgroup's CPU bandwidth, as the module's health says it."""
    if (group / "cpu.max").exists():  # cgroup v2
        quota, period = (group / "cpu.max").read_text().split()
    else:
        quota = (group / "cpu.cfs_quota_us").read_text()
        period = (group / "cpu.cfs_period_us").read_text()
    return f"cpu cgroup, at most {int(quota) * 1000 // int(period)} millicores"


def confine(confinement: Confinement, *, address_space: bool = True) -> Enforced:
    """Narrow this process for good; ConfinementError if a step the kernel offers fails.
    ``address_space``: bound memory by RLIMIT_AS (not for V8, which reserves far more than it
    uses: its heap limit stands instead)."""
    enforced = Enforced()
    limits = confinement.limits
    if confinement.cpu_cgroup:
        Path(confinement.cpu_cgroup, "cgroup.procs").write_text(str(os.getpid()))
        enforced.cpu_limit = _cpu_share(Path(confinement.cpu_cgroup))
    if confinement.pids_cgroup:
        Path(confinement.pids_cgroup, "cgroup.procs").write_text(str(os.getpid()))
        enforced.process_limit = f"pids cgroup, at most {limits.processes}"
    elif os.getuid() != 0:
        # RLIMIT_NPROC counts every task of the user, not this process's: allow this many more
        # than the user has now (a limit of its own would stop a module of a busy user at once)
        ceiling = user_tasks(os.getuid()) + limits.processes
        _limit(resource.RLIMIT_NPROC, ceiling)
        enforced.process_limit = (
            f"RLIMIT_NPROC {ceiling}: {limits.processes} more tasks than its user had at start"
        )
    else:
        enforced.notes.append("no process limit: running as root without a writable pids cgroup")
    if address_space:
        _limit(resource.RLIMIT_AS, limits.memory_bytes)
    _limit(resource.RLIMIT_NOFILE, limits.open_files)
    _limit(resource.RLIMIT_FSIZE, limits.file_bytes)
    _limit(resource.RLIMIT_CORE, 0)
    if os.getuid() == 0:
        _drop_capabilities()
    if _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:  # nothing exec'd gains privilege
        raise ConfinementError(f"no_new_privs: {os.strerror(ctypes.get_errno())}")
    abi = landlock_abi()
    enforced.landlock_abi = abi
    if abi:
        readable = [*runtime_paths(), *confinement.readable]
        writable = [confinement.workdir, *SYSTEM_WRITABLE, *confinement.writable]
        _landlock(abi, readable, writable, enforced)
    else:
        enforced.notes.append("no Landlock in this kernel: file: permissions are the SDK's only")
    if refuse_network_sockets():
        enforced.network_sockets = False
    else:
        enforced.notes.append("no seccomp filter for this architecture: UDP is not refused")
    return enforced
