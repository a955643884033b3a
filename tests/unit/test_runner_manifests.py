"""A tenant's runner Deployment and Service, made from a template (pure logic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from adx_modules.core.errors import SettingsError
from adx_modules.sandboxes.runner import manifests

TEMPLATE: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "adx-runner-template", "namespace": "adx-system", "labels": {"a": "b"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app.kubernetes.io/component": "runner-template"}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/component": "runner-template"}},
            "spec": {
                "containers": [
                    {
                        "name": "runner",
                        "image": "runner:1",
                        "env": [
                            {"name": "ADX_RUNNER_TENANT", "value": "stale"},
                            {"name": "KEEP", "value": "1"},
                        ],
                        "ports": [
                            {"name": "invoke", "containerPort": 8092},
                            {"name": "admin", "containerPort": 8093},
                        ],
                    }
                ]
            },
        },
    },
}


def test_a_tenant_runner_is_the_template_named_labelled_and_told_its_tenant() -> None:
    body = manifests.deployment(TEMPLATE, "acme")
    assert body["metadata"]["name"] == "adx-runner-acme"
    assert body["metadata"]["namespace"] == "adx-system"
    assert body["metadata"]["labels"]["a"] == "b"
    assert body["spec"]["replicas"] == 1
    assert body["spec"]["strategy"] == {"type": "Recreate"}
    selector = body["spec"]["selector"]["matchLabels"]
    pod_labels = body["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert pod_labels[manifests.TENANT_LABEL] == "acme"
    env = body["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e for e in env if e["name"] == "ADX_RUNNER_TENANT"] == [
        {"name": "ADX_RUNNER_TENANT", "value": "acme"}
    ]
    assert {"name": "KEEP", "value": "1"} in env
    # the template itself is not changed (it is the next tenant's too)
    assert TEMPLATE["spec"]["replicas"] == 3
    assert manifests.deployment(TEMPLATE, "other")["metadata"]["name"] == "adx-runner-other"


def test_the_service_selects_the_tenant_runner_on_its_named_ports() -> None:
    service = manifests.service(TEMPLATE, "acme")
    assert (
        service["spec"]["selector"]
        == manifests.deployment(TEMPLATE, "acme")["spec"]["selector"]["matchLabels"]
    )
    assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [
        ("invoke", 8092),
        ("admin", 8093),
    ]


def test_long_tenant_names_stay_distinct_dns_labels() -> None:
    first, second = "t" * 62 + "a", "t" * 62 + "b"
    names = {manifests.runner_name(first), manifests.runner_name(second)}
    assert len(names) == 2
    assert all(len(name) <= 63 and not name.endswith("-") for name in names)


def test_urls_are_filled_in_per_tenant_only_with_a_template() -> None:
    url = "http://{service}.{namespace}.svc:8093/"
    assert manifests.url_for(url, TEMPLATE, "acme") == "http://adx-runner-acme.adx-system.svc:8093"
    assert manifests.url_for("http://127.0.0.1:8093/", None, "acme") == "http://127.0.0.1:8093"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"kind": "Service"}, "is not a Deployment"),
        ({"metadata": {"name": "x"}}, "metadata.namespace"),
        (
            {"spec": {"template": {"spec": {"containers": []}}}},
            "exactly one container",
        ),
    ],
)
def test_a_template_that_cannot_make_runners_is_refused_by_name(
    tmp_path: Path, change: dict[str, Any], named: str
) -> None:
    path = tmp_path / "runner.yaml"
    path.write_text(yaml.safe_dump({**TEMPLATE, **change}))
    with pytest.raises(SettingsError, match=named):
        manifests.load_template(str(path))


def test_a_template_without_the_named_ports_is_refused(tmp_path: Path) -> None:
    broken = yaml.safe_load(yaml.safe_dump(TEMPLATE))
    broken["spec"]["template"]["spec"]["containers"][0]["ports"] = [
        {"name": "http", "containerPort": 8092}
    ]
    path = tmp_path / "runner.yaml"
    path.write_text(yaml.safe_dump(broken))
    with pytest.raises(SettingsError, match="no port named invoke, admin"):
        manifests.load_template(str(path))
    with pytest.raises(SettingsError, match="cannot be read"):
        manifests.load_template(str(tmp_path / "missing.yaml"))
