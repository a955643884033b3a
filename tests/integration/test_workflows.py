"""The lifecycle workflows with fake activities, on the real Temporal server.

The workflows' decisions (compensate, roll back, wait for approval, give up on a failed
dependency, retry what is transient and nothing else) are checked apart from Kubernetes and
PostgreSQL: every activity is replaced, by name, with a fake that records its calls and answers
as the scenario says. Temporal's time-skipping test server is a download this machine cannot
make, so the workflows run in real time against the local dev server; no scenario waits more
than a few seconds.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.api.installation import ModuleInstallationSpec
from adx_modules.api.module import ModuleSpec
from adx_modules.clients import temporal
from adx_modules.clients.errors import InvalidError, UnavailableError
from adx_modules.core.errors import StepError
from adx_modules.core.failures import FailureBoundary
from adx_modules.core.refs import InstallationRef
from adx_modules.installations.contract import (
    Activities,
    DependencyRequest,
    InstallationsRequest,
    LifecycleRequest,
    PlannedDependency,
    Resolution,
    RevisionInfo,
    StatusReport,
)
from adx_modules.installations.workflows.install import InstallModuleWorkflow
from adx_modules.installations.workflows.update import UpdateModuleWorkflow
from adx_modules.marketplace.contract import (
    Entitlement,
    EntitlementQuery,
    Policy,
    PurchaseActivities,
    Revocation,
)
from adx_modules.sandboxes.contract import (
    ActivationRequest,
    HealthRequest,
    ProvisionRequest,
    ProvisionResult,
    SandboxActivities,
    SandboxRequest,
)
from adx_modules.service.worker import WORKFLOWS
from support.objects import module_doc
from support.stack import StackInfo

REF = InstallationRef(namespace="tenant", name="analytics", uid="uid-1", generation=1)


def module(version: str) -> ModuleSpec:
    return ModuleSpec.model_validate(module_doc("analytics", version)["spec"])


@dataclass
class Scenario:
    """What the fake activities answer, and every call they received."""

    version: str = "1.0.0"
    score: int | None = 90
    missing: list[str] = field(default_factory=list)
    dependencies: list[PlannedDependency] = field(default_factory=list)
    previous: RevisionInfo | None = None
    healthy: Callable[[int], bool] = lambda _attempt: True
    provision_failures: list[Exception] = field(default_factory=list)
    dependency_failure: str | None = None
    entitlement: Entitlement = field(default_factory=lambda: Entitlement(paid=False, entitled=True))
    entitlement_checks: int = 0
    calls: list[tuple[str, Any]] = field(default_factory=list)
    reports: list[StatusReport] = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def activities(self) -> list[Callable[..., Any]]:
        scenario = self
        health_checks = 0

        @activity.defn(name=Activities.RESOLVE)
        async def resolve(request: LifecycleRequest) -> Resolution:
            scenario.calls.append(("resolve", request.spec.version))
            version = request.spec.version.lstrip("=") if "==" in request.spec.version else None
            return Resolution(
                module_name="analytics-module",
                module=module(version or scenario.version),
                security_score=scenario.score,
                digest="sha256:" + "5" * 64,
                module_phase="Available",
                isolation="container",
                missing_permissions=scenario.missing,
                scanning_enabled=True,
                min_security_score=70,
                dependencies=scenario.dependencies,
                health_timeout_seconds=10,
            )

        @activity.defn(name=PurchaseActivities.CHECK_ENTITLEMENT)
        async def check_entitlement(query: EntitlementQuery) -> Entitlement:
            assert (query.tenant, query.module_id) == (REF.namespace, "analytics")
            scenario.entitlement_checks += 1
            return scenario.entitlement

        @activity.defn(name=Activities.REPORT)
        async def report(request: StatusReport) -> bool:
            scenario.reports.append(request)
            return True

        @activity.defn(name=SandboxActivities.PROVISION)
        async def provision(request: ProvisionRequest) -> ProvisionResult:
            scenario.calls.append(("provision", (request.revision, request.module.version)))
            if scenario.provision_failures:
                raise scenario.provision_failures.pop(0)
            return ProvisionResult(
                objects=[("Deployment", "mod-analytics")], configuration_hash="h"
            )

        @activity.defn(name=SandboxActivities.WAIT_HEALTHY)
        async def wait_healthy(request: HealthRequest) -> str:
            nonlocal health_checks
            health_checks += 1
            scenario.calls.append(("wait_healthy", request.timeout_seconds))
            if not scenario.healthy(health_checks):
                raise StepError(r.HEALTH_CHECK_FAILED, "not healthy within 10s: 0/1 ready")
            return "ready"

        @activity.defn(name=SandboxActivities.ACTIVATE)
        async def activate(request: ActivationRequest) -> None:
            scenario.calls.append(("activate", request.active))

        @activity.defn(name=SandboxActivities.DEPROVISION)
        async def deprovision(request: SandboxRequest) -> list[str]:
            scenario.calls.append(("deprovision", request.isolation))
            return ["Deployment/mod-analytics"]

        @activity.defn(name=Activities.LAST_REVISION)
        async def last_revision(ref: InstallationRef) -> RevisionInfo | None:
            return scenario.previous

        @activity.defn(name=Activities.SUPERSEDE)
        async def supersede(workflow_id: str) -> str:
            return "absent"

        @activity.defn(name=Activities.ENSURE_DEPENDENCIES)
        async def ensure_dependencies(request: DependencyRequest) -> list[str]:
            created = [d.installation for d in request.dependencies if d.create]
            scenario.calls.append(("ensure_dependencies", created))
            return created

        @activity.defn(name=Activities.WAIT_INSTALLATIONS)
        async def wait_installations(request: InstallationsRequest) -> None:
            scenario.calls.append(("wait_installations", request.names))
            if scenario.dependency_failure:
                raise StepError(r.DEPENDENCY_FAILED, scenario.dependency_failure)

        @activity.defn(name=Activities.WITHDRAW)
        async def withdraw(ref: InstallationRef) -> bool:
            scenario.calls.append(("withdraw", ref.uid))
            return True

        @activity.defn(name=Activities.COLLECT_DEPENDENCIES)
        async def collect_dependencies(request: InstallationsRequest) -> list[str]:
            scenario.calls.append(("collect_dependencies", request.names))
            return list(request.names)

        return [
            resolve,
            check_entitlement,
            report,
            provision,
            wait_healthy,
            activate,
            deprovision,
            last_revision,
            supersede,
            ensure_dependencies,
            wait_installations,
            collect_dependencies,
            withdraw,
        ]


@pytest.fixture
async def client(stack: StackInfo) -> Client:
    return await temporal.connect(stack.temporal_address, stack.temporal_namespace)


@pytest.fixture
def scenario() -> Scenario:
    return Scenario()


@pytest.fixture
async def worker(client: Client, scenario: Scenario, task_queue: str) -> AsyncIterator[Worker]:
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=scenario.activities(),
        interceptors=[FailureBoundary()],
    ) as running:
        yield running


def request(**spec: Any) -> LifecycleRequest:
    spec.setdefault("module", "analytics")
    return LifecycleRequest(ref=REF, spec=ModuleInstallationSpec.model_validate(spec))


async def run(client: Client, task_queue: str, workflow: Any, argument: LifecycleRequest) -> Any:
    return await client.execute_workflow(
        workflow, argument, id=f"test-{uuid.uuid4()}", task_queue=task_queue
    )


async def install_fails_with(client: Client, task_queue: str, reason: str) -> None:
    """The install workflow fails, and its failure carries ``reason``."""
    with pytest.raises(WorkflowFailureError) as failed:
        await run(client, task_queue, InstallModuleWorkflow.run, request())
    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == reason


def final(scenario: Scenario) -> StatusReport:
    assert scenario.reports, "nothing was reported"
    last = scenario.reports[-1]
    assert last.done
    return last


def conditions(report: StatusReport) -> dict[str, tuple[str, str]]:
    return {change.type: (change.status, change.reason) for change in report.conditions}


@pytest.mark.usefixtures("worker")
async def test_an_install_that_never_gets_healthy_is_undone(
    client: Client, scenario: Scenario, task_queue: str
) -> None:
    scenario.healthy = lambda _attempt: False
    await install_fails_with(client, task_queue, r.HEALTH_CHECK_FAILED)
    # compensation: what was provisioned is removed, in the isolation it was provisioned in
    assert scenario.names() == ["resolve", "provision", "wait_healthy", "deprovision"]
    assert ("deprovision", "container") in scenario.calls
    last = final(scenario)
    assert (last.phase, last.rollup, last.reason) == ("Failed", "stalled", r.HEALTH_CHECK_FAILED)
    assert "removed what it had created (Deployment/mod-analytics)" in last.message
    assert conditions(last)[c.HEALTHY] == ("False", r.HEALTH_CHECK_FAILED)
    assert conditions(last)[c.INSTALLED] == ("False", r.HEALTH_CHECK_FAILED)


@pytest.mark.usefixtures("worker")
async def test_an_update_that_never_gets_healthy_is_rolled_back(
    client: Client, scenario: Scenario, task_queue: str
) -> None:
    scenario.version = "2.0.0"
    scenario.previous = RevisionInfo(revision=1, version="1.0.0", configuration={"a": 1})
    scenario.healthy = lambda attempt: attempt != 1  # the new revision fails, the old is fine
    with pytest.raises(WorkflowFailureError):
        await run(client, task_queue, UpdateModuleWorkflow.run, request(version="^2.0"))
    provisioned = [args for name, args in scenario.calls if name == "provision"]
    assert provisioned == [(2, "2.0.0"), (1, "1.0.0")]  # the new revision, then the previous
    assert ("deprovision", "container") not in scenario.calls  # the old one is never removed
    last = final(scenario)
    assert last.phase == "Active"
    assert conditions(last)[c.REMEDIATED] == ("True", r.ROLLBACK_SUCCEEDED)
    assert last.fields["installed_version"] == "1.0.0"
    assert "revision 1 (1.0.0) still runs" in last.message


@pytest.mark.usefixtures("worker")
async def test_unapproved_permissions_wait_without_provisioning(
    client: Client, scenario: Scenario, task_queue: str
) -> None:
    scenario.missing = ["database:read:user_data"]
    handle = await client.start_workflow(
        InstallModuleWorkflow.run, request(), id=f"test-{uuid.uuid4()}", task_queue=task_queue
    )
    for _ in range(50):
        if any(report.phase == "AwaitingApproval" for report in scenario.reports):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)  # it keeps waiting: nothing else happens
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    assert scenario.names() == ["resolve"]
    waiting = scenario.reports[-1]
    assert (waiting.phase, waiting.rollup, waiting.reason) == (
        "AwaitingApproval",
        "stalled",
        r.BLOCKED,
    )
    assert conditions(waiting)[c.PERMISSIONS_APPROVED] == ("False", r.BLOCKED)
    await handle.cancel()  # a newer generation supersedes it this way
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert "provision" not in scenario.names()


@pytest.mark.usefixtures("worker")
async def test_a_paid_module_waits_for_its_purchase_then_installs(
    client: Client, scenario: Scenario, task_queue: str
) -> None:
    scenario.entitlement = Entitlement(
        paid=True, entitled=False, listing="analytics-pro", price="49.00 USD"
    )
    handle = await client.start_workflow(
        InstallModuleWorkflow.run, request(), id=f"test-{uuid.uuid4()}", task_queue=task_queue
    )
    for _ in range(50):
        if any(report.phase == "AwaitingPurchase" for report in scenario.reports):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)  # it keeps waiting: nothing is provisioned, nothing polls
    assert scenario.names() == ["resolve"]
    assert scenario.entitlement_checks == 2  # before the report, and once after it
    waiting = scenario.reports[-1]
    assert (waiting.phase, waiting.rollup, waiting.reason) == (
        "AwaitingPurchase",
        "stalled",
        r.ENTITLEMENT_REQUIRED,
    )
    assert conditions(waiting)[c.ENTITLED] == ("False", r.ENTITLEMENT_REQUIRED)
    assert "MarketplaceListing analytics-pro (49.00 USD)" in waiting.message
    # a signal without a purchase changes nothing: the entitlement is checked again
    await handle.signal(PurchaseActivities.ENTITLEMENT_SIGNAL)
    for _ in range(50):
        if scenario.entitlement_checks == 3:
            break
        await asyncio.sleep(0.1)
    assert scenario.names() == ["resolve"]
    # the purchase settles: its workflow signals, the install goes on
    scenario.entitlement = Entitlement(
        paid=True, entitled=True, listing="analytics-pro", price="49.00 USD"
    )
    await handle.signal(PurchaseActivities.ENTITLEMENT_SIGNAL)
    assert await handle.result() == "Active"
    assert "provision" in scenario.names()
    granted = next(
        report
        for report in scenario.reports
        if c.ENTITLED in conditions(report) and conditions(report)[c.ENTITLED][0] == "True"
    )
    assert conditions(granted)[c.ENTITLED] == ("True", r.PURCHASED)


@pytest.mark.usefixtures("worker")
async def test_a_failed_dependency_fails_the_install_and_collects_what_it_created(
    client: Client, scenario: Scenario, task_queue: str
) -> None:
    scenario.dependencies = [
        PlannedDependency(
            module_id="charts", version="3.2.0", installation="charts", create=True, level=1
        )
    ]
    scenario.dependency_failure = "dependency charts (charts) failed: not healthy"
    await install_fails_with(client, task_queue, r.DEPENDENCY_FAILED)
    assert scenario.names() == [
        "resolve",
        "ensure_dependencies",
        "wait_installations",
        "collect_dependencies",
    ]
    assert ("collect_dependencies", ["charts"]) in scenario.calls
    last = final(scenario)
    assert (last.phase, last.reason) == ("Failed", r.DEPENDENCY_FAILED)


@pytest.mark.usefixtures("worker")
async def test_a_transient_error_is_retried_and_the_install_completes(
    client: Client, scenario: Scenario, task_queue: str
) -> None:
    scenario.provision_failures = [
        UnavailableError("PATCH x: the Kubernetes API answered 503"),
        UnavailableError("PATCH x: the Kubernetes API answered 503"),
    ]
    assert await run(client, task_queue, InstallModuleWorkflow.run, request()) == "Active"
    assert scenario.names().count("provision") == 3
    last = final(scenario)
    assert (last.phase, last.rollup) == ("Active", "ready")


@pytest.mark.usefixtures("worker")
async def test_a_refusal_of_the_apiserver_is_not_retried(
    client: Client, scenario: Scenario, task_queue: str
) -> None:
    scenario.provision_failures = [
        InvalidError(
            "PATCH Deployment mod-analytics: spec.selector: field is immutable", status=422
        )
    ]
    await install_fails_with(client, task_queue, r.KUBERNETES_REFUSED)
    assert scenario.names().count("provision") == 1
    last = final(scenario)
    assert last.reason == r.KUBERNETES_REFUSED
    assert "field is immutable" in last.message


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize(
    ("score", "reason"), [(None, r.MODULE_NOT_AVAILABLE), (69, r.SECURITY_SCORE_TOO_LOW)]
)
async def test_the_security_gate_fails_closed(
    client: Client, scenario: Scenario, task_queue: str, score: int | None, reason: str
) -> None:
    scenario.score = score  # never scanned, or below the minimum of 70
    await install_fails_with(client, task_queue, reason)
    assert "provision" not in scenario.names()  # nothing was deployed
    last = final(scenario)
    assert last.reason == reason
    assert ("no security score" if score is None else "below the minimum 70") in last.message


@pytest.mark.usefixtures("worker")
async def test_a_passing_module_is_installed_saying_its_score_and_digest(
    client: Client, scenario: Scenario, task_queue: str
) -> None:
    await run(client, task_queue, InstallModuleWorkflow.run, request())
    scanned = [
        change
        for report in scenario.reports
        for change in report.conditions
        if change.type == c.SCANNED
    ]
    assert scanned
    assert (scanned[0].status, scanned[0].reason) == ("True", r.SCAN_PASSED)
    assert "security score 90 (minimum 70)" in scanned[0].message
    assert "sha256:5555" in scanned[0].message


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("policy", ["suspend", "uninstall"])
async def test_a_revoked_entitlement_suspends_or_uninstalls_as_the_policy_says(
    client: Client, scenario: Scenario, task_queue: str, policy: Policy
) -> None:
    revocation = Revocation(
        ref=REF,
        spec=ModuleInstallationSpec.model_validate({"module": "analytics"}),
        isolation="wasm",
        policy=policy,
        message="the entitlement was revoked: refunded by support",
    )
    outcome = await client.execute_workflow(
        PurchaseActivities.ENFORCE_REVOCATION,
        revocation,
        id=f"test-{uuid.uuid4()}",
        task_queue=task_queue,
        result_type=str,
    )
    last = scenario.reports[-1]
    assert conditions(last)[c.ENTITLED] == ("False", r.ENTITLEMENT_REVOKED)
    assert (last.rollup, last.reason) == ("stalled", r.ENTITLEMENT_REVOKED)
    if policy == "suspend":
        assert outcome == "suspended"
        assert scenario.calls == [("activate", False)]  # routing stops; nothing is removed
        assert last.phase == "Inactive"
        assert "suspended" in last.message
    else:
        assert outcome == "uninstalled"
        assert scenario.calls == [("withdraw", REF.uid)]  # the delete runs the uninstall
        assert "uninstalling" in last.message
