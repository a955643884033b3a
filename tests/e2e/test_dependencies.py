"""Dependencies on the local stack: installed first and in order, protected, collected."""

from __future__ import annotations

import time
from typing import Any

import pytest

from support.kube import Kubectl
from support.objects import condition, installation_doc, module_doc, wait_condition, wait_phase
from support.operator import ServiceProcess

pytestmark = pytest.mark.usefixtures("operator", "worker")
PAUSE = 20.0


def publish(
    kubectl: Kubectl, module_id: str, version: str, deps: dict[str, str] | None = None
) -> None:
    dependencies = [{"moduleId": d, "version": c} for d, c in (deps or {}).items()]
    kubectl.apply(module_doc(module_id, version, dependencies=dependencies))
    wait_condition(kubectl, f"module/{module_id}-{version.replace('.', '-')}", "Ready")


def paused_at(operator: ServiceProcess, logged: int) -> float:
    """When the operator's log (past offset ``logged``) said it paused at a failpoint."""
    began = time.monotonic()
    while "failpoint dependencies:deferred reached" not in operator.log()[logged:]:
        assert time.monotonic() - began < 60, "the installation never deferred"
        time.sleep(0.1)
    return time.monotonic()


def ready_time(obj: dict[str, Any]) -> str:
    return str(condition(obj, "Ready")["lastTransitionTime"])


def test_two_levels_of_dependencies_install_first_and_in_order(
    kubectl: Kubectl, unique: str
) -> None:
    top, mid, base = f"top-{unique}", f"mid-{unique}", f"base-{unique}"
    publish(kubectl, base, "1.0.0")
    publish(kubectl, mid, "1.2.0", {base: "*"})
    publish(kubectl, top, "2.0.0", {mid: "^1.0"})
    kubectl.apply(installation_doc("top", top))
    installed = wait_phase(kubectl, "mi/top", "Active", timeout=180)
    resolved = installed["status"]["resolvedDependencies"]
    assert [(d["moduleId"], d["version"], d["installation"]) for d in resolved] == [
        (base, "1.0.0", base),
        (mid, "1.2.0", mid),
    ]
    base_mi, mid_mi = kubectl.json("get", "mi", base), kubectl.json("get", "mi", mid)
    for dependency in (base_mi, mid_mi):
        assert (
            dependency["metadata"]["labels"]["modules.adxcore.com/installed-as-dependency"]
            == "true"
        )
        assert dependency["status"]["phase"] == "Active"
    assert ready_time(base_mi) <= ready_time(mid_mi) <= ready_time(installed)
    assert kubectl.json("get", "deployment", f"mod-{base}")["status"]["readyReplicas"] == 1


def test_a_required_installation_is_protected_and_dependencies_are_collected(
    kubectl: Kubectl, unique: str
) -> None:
    app, lib = f"app-{unique}", f"lib-{unique}"
    publish(kubectl, lib, "1.0.0")
    publish(kubectl, app, "1.0.0", {lib: "*"})
    kubectl.apply(installation_doc("app", app))
    wait_phase(kubectl, "mi/app", "Active", timeout=180)

    kubectl("delete", "mi", lib, "--wait=false")
    refused = wait_condition(kubectl, f"mi/{lib}", "Stalled")
    assert condition(refused, "Stalled")["reason"] == "RequiredByOthers"
    assert "required by app" in refused["status"]["message"]
    assert kubectl.json("get", "deployment", f"mod-{lib}")["status"]["readyReplicas"] == 1

    kubectl("delete", "mi", "app", "--timeout=120s")
    # nothing requires the dependency any more: it goes too
    kubectl.wait_for(
        lambda: "NotFound" in kubectl("get", "mi", lib, check=False).stderr, timeout=120
    )
    assert kubectl.json("get", "deployments")["items"] == []


def test_an_update_that_would_break_a_dependent_is_refused(kubectl: Kubectl, unique: str) -> None:
    dash, charts = f"dash-{unique}", f"charts-{unique}"
    publish(kubectl, charts, "3.1.0")
    publish(kubectl, charts, "4.0.0")
    publish(kubectl, dash, "1.0.0", {charts: ">=3.0, <4"})
    kubectl.apply(installation_doc("charts", charts, version="3.1.0"))
    wait_phase(kubectl, "mi/charts", "Active")
    kubectl.apply(installation_doc("dash", dash))
    wait_phase(kubectl, "mi/dash", "Active", timeout=180)

    kubectl("patch", "mi", "charts", "--type=merge", "-p", '{"spec":{"version":"4.0.0"}}')
    refused = kubectl.wait_for(
        lambda: (
            (o := kubectl.json("get", "mi", "charts"))
            and condition(o, "Resolved").get("reason") == "BreaksDependents"
            and o
        ),
        timeout=90,
    )
    assert (
        f"{dash} 1.0.0 (installation dash) requires {charts} >=3.0, <4"
        in refused["status"]["message"]
    )
    assert refused["status"]["installedVersion"] == "3.1.0"
    assert refused["status"]["phase"] == "Active"  # nothing changed: 3.1.0 still runs
    image = kubectl.json("get", "deployment", "mod-charts")["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    assert image.endswith(":3.1.0")


def test_a_dry_run_shows_the_plan_and_installs_nothing(kubectl: Kubectl, unique: str) -> None:
    app, lib = f"preview-{unique}", f"pvlib-{unique}"
    publish(kubectl, lib, "2.0.0")
    publish(kubectl, app, "1.0.0", {lib: "^2"})
    kubectl.apply(installation_doc("preview", app, dryRun=True))
    previewed = kubectl.wait_for(
        lambda: (o := kubectl.json("get", "mi", "preview")).get("status", {}).get("plan") and o
    )
    assert [(p["moduleId"], p["version"], p["action"]) for p in previewed["status"]["plan"]] == [
        (lib, "2.0.0", "install"),
        (app, "1.0.0", "install"),
    ]
    assert condition(previewed, "Ready")["reason"] == "DryRun"
    assert f"would install {lib} 2.0.0, {app} 1.0.0" in previewed["status"]["message"]
    assert [i["metadata"]["name"] for i in kubectl.json("get", "mi")["items"]] == ["preview"]
    assert kubectl.json("get", "deployments")["items"] == []

    kubectl("patch", "mi", "preview", "--type=merge", "-p", '{"spec":{"dryRun":false}}')
    active = wait_phase(kubectl, "mi/preview", "Active", timeout=180)
    assert active["status"].get("plan", []) == []
    assert kubectl.json("get", "mi", lib)["status"]["phase"] == "Active"


def test_a_cascade_uninstall_removes_the_dependents_first(kubectl: Kubectl, unique: str) -> None:
    app, lib = f"casc-{unique}", f"cslib-{unique}"
    publish(kubectl, lib, "1.0.0")
    publish(kubectl, app, "1.0.0", {lib: "*"})
    kubectl.apply(installation_doc("casc", app))
    wait_phase(kubectl, "mi/casc", "Active", timeout=180)
    kubectl("patch", "mi", lib, "--type=merge", "-p", '{"spec":{"uninstall":{"cascade":true}}}')
    kubectl("delete", "mi", lib, "--timeout=150s")
    assert kubectl.json("get", "mi")["items"] == []
    assert kubectl.json("get", "deployments")["items"] == []


def test_an_installation_whose_dependency_is_not_published_yet_waits_for_it(
    kubectl: Kubectl, unique: str
) -> None:
    """GitOps applies a directory in one go: the installation may come before the Module it
    needs. It waits, saying for what, and installs once the Module is there (not Failed)."""
    app, lib = f"app-{unique}", f"lib-{unique}"
    publish(kubectl, app, "1.0.0", {lib: "^2.0"})
    kubectl.apply(installation_doc("app", app))
    waiting = wait_condition(kubectl, "mi/app", "Resolved", "Unknown", timeout=60)
    resolved = condition(waiting, "Resolved")
    assert resolved["reason"] == "DependencyPending"
    assert resolved["message"].startswith(f"waiting for {lib} (not published yet): ")
    assert waiting["status"].get("phase") != "Failed"
    assert not waiting["status"].get("workflow")  # nothing started, nothing to fail
    publish(kubectl, lib, "2.1.0")
    installed = wait_phase(kubectl, "mi/app", "Active", timeout=180)
    assert [d["moduleId"] for d in installed["status"]["resolvedDependencies"]] == [lib]
    assert condition(installed, "Resolved")["reason"] == "ModuleResolved"


def test_a_dependency_judged_while_the_installation_defers_still_wakes_it(
    kubectl: Kubectl, unique: str, operator: ServiceProcess
) -> None:
    """The lost wakeup found by the scale benchmark (one installation in 1,000 waited for good
    for a Module that was long Available): the Module was judged after the installation had
    found it must wait but before its DependencyPending status came back through the watch,
    which was how the operator learnt who waits. Held in exactly that window (a pause
    failpoint), the installation is still woken by the judgement, and installs. (With the
    waiter registered only once its status is written, as before, this fails.)"""
    app, lib = f"app-{unique}", f"lib-{unique}"
    publish(kubectl, app, "1.0.0", {lib: "^2.0"})
    with operator.pausing_at("dependencies:deferred", f"{kubectl.namespace}/app", PAUSE):
        logged = len(operator.log())
        kubectl.apply(installation_doc("app", app))
        # the reconcile of "app" has found it must wait and pauses before writing why: in
        # that window the dependency is published and judged
        deferred = paused_at(operator, logged)
        publish(kubectl, lib, "2.1.0")
        assert time.monotonic() - deferred < PAUSE, "the Module was judged after the window"
        installed = wait_phase(kubectl, "mi/app", "Active", timeout=180)
    assert [d["moduleId"] for d in installed["status"]["resolvedDependencies"]] == [lib]
