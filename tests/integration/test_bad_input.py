"""Bad objects are refused by the real apiserver, before anything runs, naming the field.

Each row starts from a valid object, breaks one thing, and applies it with
``kubectl apply --dry-run=server`` (full validation, schema and CEL, nothing stored). Updates
that break an immutability rule are applied for real to an existing object.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from support.kube import Kubectl

DELETE = object()


def module_base(name: str = "bad-input-probe") -> dict[str, Any]:
    return {
        "apiVersion": "modules.adxcore.com/v1alpha1",
        "kind": "Module",
        "metadata": {"name": name},
        "spec": {
            "moduleId": "probe",
            "version": "1.0.0",
            "displayName": "Probe",
            "author": "tests",
            "runtime": "container",
            "artifact": {"image": {"reference": "registry.local/probe:1.0.0"}},
            "dependencies": [{"moduleId": "charts", "version": "^3.0"}],
            "permissions": ["database:read:user_data"],
            "resources": {
                "requests": {"cpu": "100m", "memory": "64Mi"},
                "limits": {"cpu": 1, "memory": "128Mi"},
            },
            "extensionPoints": {"api": [{"path": "/probe", "port": 8080}]},
        },
    }


def installation_base(name: str = "probe") -> dict[str, Any]:
    return {
        "apiVersion": "modules.adxcore.com/v1alpha1",
        "kind": "ModuleInstallation",
        "metadata": {"name": name},
        "spec": {
            "module": "probe",
            "version": "^1.0",
            "isolation": "container",
            "approvedPermissions": ["database:read:user_data"],
            "update": {"healthTimeoutSeconds": 60},
        },
    }


def listing_base(name: str = "bad-input-probe") -> dict[str, Any]:
    return {
        "apiVersion": "modules.adxcore.com/v1alpha1",
        "kind": "MarketplaceListing",
        "metadata": {"name": name},
        "spec": {
            "module": "probe",
            "publisher": {"name": "Tests"},
            "summary": "A probe.",
            "pricing": {"model": "one-time", "amount": "49", "currency": "EUR"},
            "media": {"screenshots": ["https://example.com/1.png"]},
        },
    }


def broken(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with dotted paths set (or removed with DELETE)."""
    result = copy.deepcopy(base)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if value is DELETE:
            del node[leaf]
        elif isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value
    return result


M, MI, L = module_base, installation_base, listing_base
CASES: list[tuple[str, Any, dict[str, Any], list[str]]] = [
    # --- Module: versions and identity
    ("version-not-semver", M, {"spec.version": "1.0"}, ["spec.version", "semantic version"]),
    ("version-with-v", M, {"spec.version": "v1.0.0"}, ["spec.version", "semantic version"]),
    ("version-odd-prerelease", M, {"spec.version": "1.0.0-snapshot"}, ["spec.version", "alpha"]),
    ("module-id-uppercase", M, {"spec.moduleId": "Probe"}, ["spec.moduleId", "DNS label"]),
    ("module-id-too-long", M, {"spec.moduleId": "p" * 64}, ["spec.moduleId", "Too long"]),
    ("module-id-missing", M, {"spec.moduleId": DELETE}, ["spec.moduleId", "Required value"]),
    ("runtime-unknown", M, {"spec.runtime": "jvm"}, ["spec.runtime", "Unsupported value"]),
    ("unknown-field", M, {"spec.colour": "blue"}, ['unknown field "spec.colour"']),
    # --- Module: extension points
    (
        "workflow-definition-undeclared",
        M,
        {
            "spec.extensionPoints.workflows": ["sync"],
            "spec.extensionPoints.workflowDefinitions": [{"name": "export"}],
        },
        ["spec.extensionPoints.workflowDefinitions", "names one of workflows"],
    ),
    (
        "ui-permission-undeclared",
        M,
        {
            "spec.extensionPoints.ui": [
                {"slot": "main-menu", "entry": "p.js", "permissions": ["storage:read:x"]}
            ]
        },
        ["spec.extensionPoints.ui", "must be among spec.permissions"],
    ),
    (
        "ui-type-unknown",
        M,
        {"spec.extensionPoints.ui": [{"slot": "main-menu", "entry": "p.js", "type": "modal"}]},
        ["spec.extensionPoints.ui[0].type", "Unsupported value"],
    ),
    (
        "workflow-timeout-zero",
        M,
        {
            "spec.extensionPoints.workflows": ["sync"],
            "spec.extensionPoints.workflowDefinitions": [{"name": "sync", "timeoutSeconds": 0}],
        },
        ["spec.extensionPoints.workflowDefinitions[0].timeoutSeconds", "greater than or equal"],
    ),
    # --- Module: artifacts
    (
        "two-artifacts",
        M,
        {"spec.artifact.wasm": {"url": "https://example.com/m.wasm"}},
        ["spec.artifact", "exactly one of image, wasm, package"],
    ),
    ("no-artifact", M, {"spec.artifact": {}}, ["spec.artifact", "exactly one of image, wasm"]),
    (
        "wasm-runtime-with-image",
        M,
        {"spec.runtime": "wasm"},
        ["spec.runtime", "runtime wasm takes artifact.wasm"],
    ),
    (
        "container-runtime-with-package",
        M,
        {"spec.artifact": {"package": {"url": "https://example.com/p.adx"}}},
        ["spec.runtime", "runtime container needs artifact.image"],
    ),
    (
        "wasm-two-sources",
        M,
        {
            "spec.runtime": "wasm",
            "spec.artifact": {"wasm": {"url": "https://e.com/m.wasm", "oci": "registry.local/m:1"}},
        },
        ["spec.artifact.wasm", "exactly one of url, configMapRef, oci"],
    ),
    (
        "bad-image-reference",
        M,
        {"spec.artifact.image.reference": "Registry/UPPER case"},
        ["spec.artifact.image.reference", "OCI image reference"],
    ),
    (
        "bad-wasm-digest",
        M,
        {
            "spec.runtime": "wasm",
            "spec.artifact": {"wasm": {"url": "https://e.com/m.wasm", "sha256": "xyz"}},
        },
        ["spec.artifact.wasm.sha256", "64 lowercase hex digits"],
    ),
    # --- Module: permissions
    (
        "permission-unknown-action",
        M,
        {"spec.permissions": ["database:delete:users"]},
        ["spec.permissions[0]", "<resource>:<action>:<target>"],
    ),
    (
        "permission-no-target",
        M,
        {"spec.permissions": ["network:access:"]},
        ["spec.permissions[0]", "<resource>:<action>:<target>"],
    ),
    (
        "permission-relative-file",
        M,
        {"spec.permissions": ["file:read:tmp/cache"]},
        ["spec.permissions[0]", "absolute path"],
    ),
    (
        "permission-duplicated",
        M,
        {"spec.permissions": ["database:read:a", "database:read:a"]},
        ["spec.permissions[1]", "Duplicate value"],
    ),
    # --- Module: dependencies
    (
        "dependency-constraint-garbage",
        M,
        {"spec.dependencies.0.version": "latest"},
        ["spec.dependencies[0].version", "version constraint"],
    ),
    (
        "dependency-twice",
        M,
        {"spec.dependencies": [{"moduleId": "charts"}, {"moduleId": "charts", "version": "^2"}]},
        ["spec.dependencies[1]", "Duplicate value"],
    ),
    (
        "depends-on-itself",
        M,
        {"spec.dependencies": [{"moduleId": "probe"}]},
        ["spec.dependencies", "cannot depend on itself"],
    ),
    # --- Module: resources, lists, strings, extension points
    (
        "quantity-garbage",
        M,
        {"spec.resources.requests.cpu": "lots"},
        ["spec.resources.requests.cpu", "Kubernetes quantity"],
    ),
    (
        "requests-above-limits",
        M,
        {"spec.resources.requests.memory": "1Gi"},
        ["spec.resources.requests.memory", "must not exceed limits.memory"],
    ),
    (
        "too-many-categories",
        M,
        {"spec.categories": [f"c{i}" for i in range(9)]},
        ["spec.categories", "Too many"],
    ),
    ("description-too-long", M, {"spec.description": "x" * 4097}, ["spec.description", "Too long"]),
    (
        "module-negative-memory-limit",
        M,
        {"spec.resources.limits.memory": "-1Gi"},
        ["spec.resources.limits.memory", "must be at least 1Mi"],
    ),
    (
        "module-negative-cpu-request",
        M,
        {"spec.resources.requests.cpu": "-100m"},
        ["spec.resources.requests.cpu", "must be at least 1m"],
    ),
    (
        "module-absurd-cpu-limit",
        M,
        {"spec.resources.limits.cpu": 1000},
        ["spec.resources.limits.cpu", "must be at most 64"],
    ),
    (
        "api-path-relative",
        M,
        {"spec.extensionPoints.api.0.path": "probe"},
        ["spec.extensionPoints.api[0].path", "absolute URL path"],
    ),
    (
        "api-port-too-high",
        M,
        {"spec.extensionPoints.api.0.port": 70000},
        ["spec.extensionPoints.api[0].port", "less than or equal to 65535"],
    ),
    # --- ModuleInstallation
    ("isolation-unknown", MI, {"spec.isolation": "vm"}, ["spec.isolation", "Unsupported value"]),
    ("installation-no-module", MI, {"spec.module": DELETE}, ["spec.module", "Required value"]),
    ("constraint-garbage", MI, {"spec.version": ">>1"}, ["spec.version", "version constraint"]),
    (
        "approved-permission-garbage",
        MI,
        {"spec.approvedPermissions": ["everything"]},
        ["spec.approvedPermissions[0]", "<resource>:<action>:<target>"],
    ),
    (
        "runtime-class-without-container",
        MI,
        {"spec.isolation": "wasm", "spec.runtimeClassName": "gvisor"},
        ["spec.runtimeClassName", "only to isolation container"],
    ),
    (
        "health-timeout-too-short",
        MI,
        {"spec.update.healthTimeoutSeconds": 5},
        ["spec.update.healthTimeoutSeconds", "greater than or equal to 10"],
    ),
    (
        "installation-name-too-long",
        MI,
        {"metadata.name": "n" * 49},
        ["metadata.name must be at most 48 characters"],
    ),
    (
        "resources-override-garbage",
        MI,
        {"spec.resources": {"limits": {"memory": "a lot"}}},
        ["spec.resources.limits.memory", "Kubernetes quantity"],
    ),
    (
        "resources-override-negative-memory",
        MI,
        {"spec.resources": {"limits": {"memory": "-1Gi"}}},
        ["spec.resources.limits.memory", "must be at least 1Mi", "negative amounts are refused"],
    ),
    (
        "resources-override-zero-cpu",
        MI,
        {"spec.resources": {"requests": {"cpu": 0}}},
        ["spec.resources.requests.cpu", "must be at least 1m"],
    ),
    (
        "resources-override-absurd-memory",
        MI,
        {"spec.resources": {"limits": {"memory": "5Ti"}}},
        ["spec.resources.limits.memory", "must be at most 256Gi"],
    ),
    # --- MarketplaceListing
    (
        "free-with-price",
        L,
        {"spec.pricing": {"model": "free", "amount": "5", "currency": "USD"}},
        ["spec.pricing.model", "a free listing has no amount"],
    ),
    (
        "paid-without-currency",
        L,
        {"spec.pricing.currency": DELETE},
        ["spec.pricing.model", "needs amount and currency"],
    ),
    (
        "subscription-without-period",
        L,
        {"spec.pricing.model": "subscription"},
        ["spec.pricing.period", "required for a subscription"],
    ),
    (
        "paid-for-nothing",
        L,
        {"spec.pricing.amount": "0"},
        ["spec.pricing.amount", "greater than zero"],
    ),
    (
        "amount-three-decimals",
        L,
        {"spec.pricing.amount": "9.999"},
        ["spec.pricing.amount", "at most two decimals"],
    ),
    (
        "currency-lowercase",
        L,
        {"spec.pricing.currency": "eur"},
        ["spec.pricing.currency", "ISO 4217"],
    ),
    (
        "pricing-model-unknown",
        L,
        {"spec.pricing.model": "freemium"},
        ["spec.pricing.model", "Unsupported value"],
    ),
    ("summary-empty", L, {"spec.summary": ""}, ["spec.summary", "at least 1 chars long"]),
    (
        "screenshot-not-url",
        L,
        {"spec.media.screenshots": ["not a url"]},
        ["spec.media.screenshots[0]", "http(s) URL"],
    ),
]


def test_the_bases_are_valid(kubectl: Kubectl) -> None:
    for base in (module_base(), installation_base(), listing_base()):
        result = kubectl("apply", "--dry-run=server", "-f", "-", stdin=_yaml(base), check=False)
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("case", "base", "changes", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_object_is_refused_naming_the_field(
    kubectl: Kubectl, case: str, base: Any, changes: dict[str, Any], expected: list[str]
) -> None:
    result = kubectl(
        "apply", "--dry-run=server", "-f", "-", stdin=_yaml(broken(base(), changes)), check=False
    )
    assert result.returncode != 0, f"{case}: accepted"
    for fragment in expected:
        assert fragment in result.stderr, f"{case}: {fragment!r} not in {result.stderr!r}"


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


def test_a_published_module_spec_is_immutable(kubectl: Kubectl, unique: str) -> None:
    name = f"immutable-{unique}"
    original = broken(module_base(name), {"spec.moduleId": f"immutable-{unique}"})
    kubectl.apply(original)
    try:
        changed = broken(original, {"spec.description": "sneaky change"})
        result = kubectl.apply(changed, check=False)
        assert result.returncode != 0
        assert "spec: Invalid value" in result.stderr
        assert "spec is immutable once published" in result.stderr
        # metadata is not part of the published version: labels may change
        relabelled = broken(original, {"metadata.labels": {"team": "analytics"}})
        kubectl.apply(relabelled)
    finally:
        kubectl("delete", "module", name, "--wait=false")


def test_an_installations_module_is_immutable(kubectl: Kubectl) -> None:
    kubectl.apply(installation_base())
    result = kubectl.apply(broken(installation_base(), {"spec.module": "other"}), check=False)
    assert result.returncode != 0
    assert "spec.module" in result.stderr
    assert "module is immutable" in result.stderr
    # the rest of the spec may change
    kubectl.apply(broken(installation_base(), {"spec.version": "^1.1"}))


def _yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document)
