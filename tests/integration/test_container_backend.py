"""The container sandbox backend against the real apiserver: it provisions only onto what it owns,
deletes only what it owns, refuses a new sandbox past sandbox.max_sandboxes, and maps the
apiserver's refusals to the clients' own errors (no raw HTTP text)."""

from __future__ import annotations

from typing import Any

import pytest

from adx_modules.api import reasons as r
from adx_modules.api.installation import ModuleInstallationSpec
from adx_modules.api.module import ModuleSpec
from adx_modules.clients.errors import InvalidError, NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.core.errors import StepError
from adx_modules.core.refs import InstallationRef
from adx_modules.core.sandbox_settings import SandboxSettings
from adx_modules.sandboxes.container.backend import ContainerBackend
from adx_modules.sandboxes.container.manifests import SANDBOX_SELECTOR
from adx_modules.sandboxes.contract import ProvisionRequest
from support.kube import Kubectl
from support.objects import installation_doc, module_doc

MODULE = ModuleSpec.model_validate(module_doc("probe", "1.0.0")["spec"])


def owner(kubectl: Kubectl, name: str) -> InstallationRef:
    """A real ModuleInstallation to own the sandbox (else the garbage collector removes it)."""
    kubectl.apply(installation_doc(name, "probe-never-published"))
    body = kubectl.json("get", "mi", name)
    return InstallationRef(
        namespace=kubectl.namespace or "", name=name, uid=body["metadata"]["uid"], generation=1
    )


def request(ref: InstallationRef) -> ProvisionRequest:
    return ProvisionRequest(
        ref=ref,
        spec=ModuleInstallationSpec(module="probe"),
        module=MODULE,
        isolation="container",
        revision=1,
    )


async def running(kube: KubeClient) -> int:
    return len(await kube.list_objects("Deployment", None, SANDBOX_SELECTOR))


def names(kubectl: Kubectl, kind: str, ref: InstallationRef) -> list[str]:
    found: dict[str, Any] = kubectl.json(
        "get", kind, "-l", f"modules.adxcore.com/installation={ref.name}"
    )
    return [item["metadata"]["name"] for item in found["items"]]


async def test_a_foreign_object_stops_provisioning_before_anything_is_written(
    kube: KubeClient, kubectl: Kubectl
) -> None:
    ref = owner(kubectl, "clash")
    kubectl("create", "configmap", "mod-clash-config", "--from-literal=mine=yes")
    before = kubectl.json("get", "configmap", "mod-clash-config")["metadata"]
    backend = ContainerBackend(kube, SandboxSettings())
    with pytest.raises(StepError) as refused:
        await backend.provision(request(ref))
    assert refused.value.reason.name == r.OBJECT_CONFLICT
    assert "ConfigMap mod-clash-config already exists" in refused.value.message
    assert names(kubectl, "serviceaccount", ref) == []  # the first object was not written either
    after = kubectl.json("get", "configmap", "mod-clash-config")["metadata"]
    assert after["resourceVersion"] == before["resourceVersion"]


async def test_deprovision_removes_only_what_the_installation_owns(
    kube: KubeClient, kubectl: Kubectl
) -> None:
    ref = owner(kubectl, "mine")
    backend = ContainerBackend(kube, SandboxSettings())
    result = await backend.provision(request(ref))
    assert ("Deployment", "mod-mine") in result.objects
    described = await backend.describe(ref)
    assert "Deployment/mod-mine" in described.objects
    # the tenant swaps the sandbox's ConfigMap for one of its own
    kubectl("delete", "configmap", "mod-mine-config")
    kubectl("create", "configmap", "mod-mine-config", "--from-literal=theirs=yes")
    removed = await backend.deprovision(ref, lambda _: None)
    assert "Deployment/mod-mine" in removed
    assert "ConfigMap/mod-mine-config" not in removed
    assert kubectl.json("get", "configmap", "mod-mine-config")["data"] == {"theirs": "yes"}
    assert (await backend.describe(ref)).objects == []
    assert await backend.deprovision(ref, lambda _: None) == []  # idempotent


async def test_a_new_sandbox_past_the_limit_is_refused_and_an_existing_one_converges(
    kube: KubeClient, kubectl: Kubectl
) -> None:
    first = owner(kubectl, "first")
    await ContainerBackend(kube, SandboxSettings()).provision(request(first))
    limit = await running(kube)
    backend = ContainerBackend(kube, SandboxSettings(max_sandboxes=limit))
    with pytest.raises(StepError) as refused:
        await backend.provision(request(owner(kubectl, "second")))
    assert refused.value.reason.name == r.SANDBOX_LIMIT_REACHED
    assert f"sandbox.max_sandboxes is {limit}" in refused.value.message
    await backend.provision(request(first))  # an existing sandbox may always converge


async def test_the_apiservers_refusals_become_the_clients_own_errors(
    kube: KubeClient, kubectl: Kubectl
) -> None:
    with pytest.raises(NotFoundError):
        await kube.get_object("Deployment", "absent", kubectl.namespace or "")
    bad = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "Not_A_Name", "namespace": kubectl.namespace},
    }
    with pytest.raises(InvalidError) as refused:
        await kube.apply(bad)
    assert refused.value.status == 422
    assert "Not_A_Name" in str(refused.value)
    assert "HTTP response headers" not in str(refused.value)
    assert "Reason:" not in str(refused.value)
