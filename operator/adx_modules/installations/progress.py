"""The lifecycle's steps: the name each shows in status.workflow.step and its progress, one table.

Why it exists: ``kubectl get mi -o wide`` shows the step and ``status.workflow.progress`` the
percentage; both come from here, so the install, update and uninstall workflows report the same
step under the same name and percentage.
"""

from __future__ import annotations

from typing import NamedTuple


class Step(NamedTuple):
    name: str
    progress: int


RESOLVE = Step("resolve", 15)
APPROVE = Step("approve-permissions", 20)
PURCHASE = Step("await-purchase", 22)
DEPENDENCIES = Step("dependencies", 30)
DEPENDENCIES_READY = Step("dependencies", 38)
PROVISION = Step("provision", 40)
ROLLOUT = Step("rollout", 40)
WAIT_HEALTHY = Step("wait-healthy", 60)
ACTIVATE = Step("activate", 80)
DONE = Step("done", 100)
DEACTIVATE = Step("deactivate", 10)
DELETE = Step("delete", 60)
REVOKE = Step("revoke", 50)


def labelled(step: Step, label: str) -> Step:
    """The same step under a prefix (a rollback's ``rollback-resolve``)."""
    return Step(f"{label}{step.name}", step.progress)
