"""Withdrawing a Module (deleting it) while a tenant runs it: the delete succeeds at once, the
installation keeps running and says so (``Resolved=False ModuleWithdrawn``), new installs of it
are refused, and the running one can still be uninstalled cleanly."""

from __future__ import annotations

import pytest

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from support.kube import Kubectl
from support.objects import condition, installation_doc, module_doc, wait_condition

pytestmark = pytest.mark.usefixtures("operator", "worker")


def test_a_withdrawn_module_keeps_running_and_says_so(kubectl: Kubectl, unique: str) -> None:
    module_id = f"gone-{unique}"
    kubectl.apply(module_doc(module_id, "1.0.0"))
    kubectl.apply(installation_doc("gone", module_id))
    wait_condition(kubectl, "moduleinstallation/gone", c.READY, timeout=120)

    kubectl("delete", "module", f"{module_id}-1-0-0", "--timeout=30s")  # not held
    withdrawn = wait_condition(kubectl, "moduleinstallation/gone", c.RESOLVED, "False")
    resolved = condition(withdrawn, c.RESOLVED)
    assert resolved["reason"] == r.MODULE_WITHDRAWN
    assert "keeps running" in resolved["message"]
    assert condition(withdrawn, c.READY)["status"] == "True"
    assert withdrawn["status"]["phase"] == "Active"
    assert kubectl.json("get", "deployment", "mod-gone")["spec"]["replicas"] >= 1

    kubectl.apply(installation_doc("late", module_id))
    late = wait_condition(kubectl, "moduleinstallation/late", c.RESOLVED, "False")
    assert condition(late, c.RESOLVED)["reason"] == r.MODULE_NOT_FOUND

    kubectl("delete", "moduleinstallation", "gone", "--timeout=90s")
    assert kubectl("get", "deployment", "mod-gone", check=False).returncode != 0
