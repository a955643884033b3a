"""The service's Kubernetes client against the real apiserver: client certificates given as files
or inline, a bearer token, paged lists, and the apiserver's refusals as the clients' own errors."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from adx_modules.api.installation import INSTALLATION
from adx_modules.api.module import MODULE
from adx_modules.clients.errors import ForbiddenError, InvalidError, NotFoundError
from adx_modules.clients.kube import KubeClient
from support.kube import Kubectl
from support.objects import installation_doc, module_doc
from support.stack import StackInfo


def inline(kubeconfig: Path, target: Path) -> Path:
    """The same credentials with every file inlined as ``-data`` (as cloud providers write them)."""
    config = yaml.safe_load(kubeconfig.read_text())
    for section, key in (("clusters", "cluster"), ("users", "user")):
        for entry in config[section]:
            fields = entry[key]
            for name in ("certificate-authority", "client-certificate", "client-key"):
                if name in fields:
                    data = (kubeconfig.parent / fields.pop(name)).read_bytes()
                    fields[f"{name}-data"] = base64.b64encode(data).decode()
    target.write_text(yaml.safe_dump(config))
    return target


async def test_files_and_inline_data_reach_the_same_server(
    stack: StackInfo, kubectl: Kubectl, tmp_path: Path
) -> None:
    kubectl.apply(module_doc("client-probe", "1.0.0"))
    for config in (stack.kubeconfig, inline(stack.kubeconfig, tmp_path / "inline")):
        async with await KubeClient.connect(str(config)) as kube:
            found = await kube.get_custom(MODULE, "client-probe-1-0-0")
            assert found["spec"]["moduleId"] == "client-probe"


async def test_lists_are_paged_and_complete(stack: StackInfo, kubectl: Kubectl) -> None:
    names = {f"paged-{i:03d}" for i in range(510)}  # more than one page of 500
    async with await KubeClient.connect(str(stack.kubeconfig)) as kube:
        for name in sorted(names):
            await kube.apply_custom(MODULE, module_doc(name, "1.0.0"), manager="test")
        listed = {m["spec"]["moduleId"] for m in await kube.list_custom(MODULE)}
    assert names <= listed


async def test_refusals_are_the_clients_own_errors(stack: StackInfo, tmp_path: Path) -> None:
    async with await KubeClient.connect(str(stack.kubeconfig)) as kube:
        with pytest.raises(NotFoundError, match=r"get Module nowhere-1-0-0: .* not found"):
            await kube.get_custom(MODULE, "nowhere-1-0-0")
        broken = module_doc("client-invalid", "1.0.0")
        broken["spec"]["version"] = "not a version"
        with pytest.raises(InvalidError, match=r"spec\.version"):
            await kube.apply_custom(MODULE, broken, manager="test")
    config = yaml.safe_load(stack.kubeconfig.read_text())
    config["users"][0]["user"] = {"token": "not-a-token"}
    config_path = inline(stack.kubeconfig, tmp_path / "stranger")
    config_path.write_text(
        yaml.safe_dump({**yaml.safe_load(config_path.read_text()), "users": config["users"]})
    )
    async with await KubeClient.connect(str(config_path)) as kube:
        with pytest.raises(ForbiddenError):
            await kube.list_custom(MODULE)


async def test_a_delete_by_uid_spares_an_object_recreated_under_the_name(
    stack: StackInfo, kubectl: Kubectl, unique: str
) -> None:
    name = f"again-{unique}"
    kubectl.apply(installation_doc(name, "anything"))
    first = kubectl.json("get", "mi", name)["metadata"]["uid"]
    kubectl("delete", "mi", name, "--wait=true", "--timeout=60s")
    kubectl.apply(installation_doc(name, "anything"))
    second = kubectl.json("get", "mi", name)["metadata"]["uid"]
    async with await KubeClient.connect(str(stack.kubeconfig)) as kube:
        assert not await kube.delete_custom(INSTALLATION, name, kubectl.namespace, uid=first)
        assert kubectl.json("get", "mi", name)["metadata"]["uid"] == second
        assert await kube.delete_custom(INSTALLATION, name, kubectl.namespace, uid=second)
