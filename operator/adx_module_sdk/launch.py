"""``python -I -B -m adx_module_sdk.launch CONFINEMENT -- PROGRAM ARGS``: confine, then exec.

Why it exists: a JavaScript module's process is ``node``, which cannot narrow itself; this
launcher does it first and then becomes node: the rlimits, the dropped capabilities,
``no_new_privs``, the Landlock domain, the pids cgroup and the parent-death signal all survive
``execve``. The memory limit is the exception: V8 reserves far more address space than it uses,
so ``RLIMIT_AS`` is not set for it and the heap is bounded by ``--max-old-space-size`` instead
(the runner passes it). What was enforced goes to the program in ``ADX_ENFORCED``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict

from adx_module_sdk.confinement import Confinement, Limits, confine, die_with_parent


def main() -> None:
    die_with_parent()
    separator = sys.argv.index("--")
    asked = json.loads(sys.argv[1])
    program = sys.argv[separator + 1 :]
    limits = Limits(**asked["limits"])
    enforced = confine(
        Confinement(
            limits=limits,
            workdir=os.getcwd(),
            readable=tuple(asked.get("readable", ())),
            writable=tuple(asked.get("writable", ())),
            pids_cgroup=asked.get("pids_cgroup"),
            cpu_cgroup=asked.get("cpu_cgroup"),
        ),
        address_space=False,
    )
    env = {**os.environ, "ADX_ENFORCED": json.dumps(asdict(enforced))}
    os.execve(program[0], program, env)  # noqa: S606 - becoming the module's runtime is the point


if __name__ == "__main__":
    main()
