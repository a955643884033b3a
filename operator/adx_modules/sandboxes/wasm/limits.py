"""What one call of a WASM module may use, from the installation's resources. Pure.

Why it exists: a tenant states resources the Kubernetes way (``cpu: 200m``, ``memory: 64Mi``);
the host enforces them per call as wasmtime understands them: fuel (executed instructions), an
epoch deadline (wall clock), and the Store's memory limit. One place turns the first into the
second, so the numbers in docs/wasm.md are the ones enforced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adx_modules.api.types import ResourceRequirements

SUFFIXES = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
}
QUANTITY = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<suffix>m|k|M|G|Ki|Mi|Gi)?$")

FUEL_PER_CORE_SECOND = 1_000_000_000  # about one instruction per nanosecond of a full core
DEFAULT_CPU_MILLICORES = 100
DEFAULT_MEMORY_BYTES = 64 * 2**20
DEADLINE_MS = 1_000  # wall clock per call, whatever the CPU share
MAX_MESSAGE_BYTES = 1 * 2**20  # request and response bodies
MAX_HOST_CALLS = 1_000  # adx.* calls per call: more is abuse, and ends the call


def cpu_millicores(value: int | str) -> int:
    """``250m`` -> 250, ``2`` -> 2000."""
    match = QUANTITY.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a CPU quantity")
    number, suffix = float(match["number"]), match["suffix"] or ""
    return max(1, int(number if suffix == "m" else number * 1000))


def memory_bytes(value: int | str) -> int:
    """``64Mi`` -> 67108864."""
    match = QUANTITY.match(str(value))
    if match is None or match["suffix"] == "m":
        raise ValueError(f"{value!r} is not a memory quantity")
    return int(float(match["number"]) * SUFFIXES[match["suffix"] or ""])


@dataclass(frozen=True)
class CallLimits:
    """Per call: fuel, wall-clock deadline, linear memory, and message sizes."""

    fuel: int
    deadline_ms: int = DEADLINE_MS
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    max_input_bytes: int = MAX_MESSAGE_BYTES
    max_output_bytes: int = MAX_MESSAGE_BYTES
    max_host_calls: int = MAX_HOST_CALLS

    @classmethod
    def of(cls, resources: ResourceRequirements | None) -> CallLimits:
        """From the installation's (or module's) limits: the CPU share buys fuel for one
        deadline's worth of wall clock; the memory limit bounds the guest's linear memory."""
        limits = resources.limits if resources is not None else None
        cpu = limits.cpu if limits is not None and limits.cpu is not None else None
        memory = limits.memory if limits is not None and limits.memory is not None else None
        millicores = cpu_millicores(cpu) if cpu is not None else DEFAULT_CPU_MILLICORES
        return cls(
            fuel=FUEL_PER_CORE_SECOND * millicores // 1000 * DEADLINE_MS // 1000,
            memory_bytes=memory_bytes(memory) if memory is not None else DEFAULT_MEMORY_BYTES,
        )
