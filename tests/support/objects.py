"""Building the custom resources tests apply, and waiting for their conditions."""

from __future__ import annotations

from typing import Any

from support.kube import Kubectl

API_VERSION = "modules.adxcore.com/v1alpha1"


def module_doc(
    module_id: str, version: str, name: str | None = None, **spec: Any
) -> dict[str, Any]:
    """A container Module; keyword arguments override or add spec fields."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Module",
        "metadata": {"name": name or f"{module_id}-{version.replace('.', '-')}"},
        "spec": {
            "moduleId": module_id,
            "version": version,
            "displayName": module_id,
            "author": "tests",
            "runtime": "container",
            "artifact": {"image": {"reference": f"registry.local/{module_id}:{version}"}},
            **spec,
        },
    }


def listing_doc(module: str, summary: str = "A module.", **spec: Any) -> dict[str, Any]:
    """A free MarketplaceListing of ``module``; keyword arguments override or add spec fields."""
    return {
        "apiVersion": API_VERSION,
        "kind": "MarketplaceListing",
        "metadata": {"name": module},
        "spec": {
            "module": module,
            "publisher": {"name": "Tests"},
            "summary": summary,
            "pricing": {"model": "free"},
            **spec,
        },
    }


def installation_doc(name: str, module: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ModuleInstallation",
        "metadata": {"name": name},
        "spec": {"module": module, **spec},
    }


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    """The condition ``type_`` of ``obj`` ({} when absent)."""
    for item in obj.get("status", {}).get("conditions", []):
        if item["type"] == type_:
            return dict(item)
    return {}


def wait_condition(
    kubectl: Kubectl, ref: str, type_: str, status: str = "True", timeout: float = 60
) -> dict[str, Any]:
    """Poll ``ref`` until its condition ``type_`` has ``status``; return the object."""

    def check() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", ref)
        return obj if condition(obj, type_).get("status") == status else None

    result: dict[str, Any] = kubectl.wait_for(check, timeout=timeout)
    return result


def wait_phase(kubectl: Kubectl, ref: str, phase: str, timeout: float = 90) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.json("get", ref)
        return obj if obj.get("status", {}).get("phase") == phase else None

    result: dict[str, Any] = kubectl.wait_for(check, timeout=timeout)
    return result
