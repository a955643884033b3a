"""Property: whatever the apiserver accepts, the operator brings to a terminal, explained state.

Hypothesis generates specs mixing valid and broken values (versions, artifacts, permissions,
constraints, JSON Schemas, configurations). The apiserver refuses some, naming a field; the
operator must handle every other one without crashing and without a retry loop: each object
ends Ready, or Stalled with a reason of the taxonomy and a message. "Accepted and still in
progress" is not an end: an installation the worker can install must get there.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adx_modules.api import reasons as r
from support.kube import Kubectl
from support.operator import ServiceProcess

pytestmark = pytest.mark.usefixtures("operator", "worker")

VERSIONS = st.one_of(
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", *(st.integers(0, 30),) * 3),
    st.sampled_from(["1.0.0-rc.1", "3.0.0-beta2", "2.0.0-alpha", "1.0", "v1.2.3"]),
)
GOOD_CONSTRAINTS = st.sampled_from(["*", "^1.0", "~2.1.0", ">=1.0, <3", "1.x", "==9.9.9", "^0.0.1"])
BAD_CONSTRAINTS = st.sampled_from([">=1.*", "latest", ""])
CONSTRAINTS = st.one_of(GOOD_CONSTRAINTS, GOOD_CONSTRAINTS, GOOD_CONSTRAINTS, BAD_CONSTRAINTS)
PERMISSIONS = st.lists(
    st.sampled_from(
        [
            "database:read:user_data",
            "network:access:api.example.com",
            "file:read:/tmp/cache",
            "workflow:execute:data_processing",
            "secret:read:token",
        ]
    ),
    max_size=3,
    unique=True,
)
BAD_PERMISSIONS = st.sampled_from([["database:drop:everything"], ["network:access:"]])
SCHEMAS = st.sampled_from(
    [
        None,
        {"type": "object", "properties": {"n": {"type": "integer", "maximum": 3}}},
        {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        {"type": 5},
        {"type": "object", "properties": {"n": {"minimum": "low"}}},
    ]
)
CONFIGURATIONS = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["n", "name", "other"]),
        st.one_of(st.integers(-5, 10), st.text(max_size=5), st.booleans()),
        max_size=3,
    ),
)
FITTING_ARTIFACT = {
    "container": {"image": {"reference": "registry.local/prop:1"}},
    "wasm": {"wasm": {"url": "https://example.com/m.wasm"}},
    "python": {"package": {"url": "https://example.com/p.adx"}},
    "javascript": {"image": {"reference": "registry.local/runner-js:1"}},
    "jvm": {"image": {"reference": "registry.local/prop:1"}},
}
ODD_ARTIFACTS = st.sampled_from(
    [
        {"image": {"reference": "registry.local/prop:1"}, "package": {"url": "https://e.com/p"}},
        {"wasm": {"url": "https://example.com/m.wasm"}},
        {},
    ]
)


@st.composite
def scenario(draw: st.DrawFn) -> dict[str, Any]:
    module_id = f"prop-{uuid.uuid4().hex[:10]}"
    runtime = draw(
        st.sampled_from(["python", "javascript", "wasm", "container", "container", "jvm"])
    )
    fitting = draw(st.integers(0, 9)) > 0  # mostly consistent, sometimes not
    spec: dict[str, Any] = {
        "moduleId": module_id,
        "version": draw(VERSIONS),
        "displayName": "Property",
        "author": "hypothesis",
        "runtime": runtime,
        "artifact": FITTING_ARTIFACT[runtime] if fitting else draw(ODD_ARTIFACTS),
        "permissions": draw(st.one_of(*[PERMISSIONS] * 5, BAD_PERMISSIONS)),
        "dependencies": [
            {"moduleId": dep, "version": draw(CONSTRAINTS)}
            for dep in draw(
                st.lists(st.sampled_from(["charts", "pdf", module_id]), unique=True, max_size=2)
            )
        ],
    }
    schema = draw(SCHEMAS)
    if schema is not None:
        spec["configSchema"] = schema
    installation: dict[str, Any] = {
        "module": draw(st.sampled_from([module_id, f"absent-{module_id}"])),
        "version": draw(CONSTRAINTS),
        "approvedPermissions": draw(PERMISSIONS),
    }
    isolation = draw(st.sampled_from([None, "none", "process", "container", "wasm"]))
    if isolation:
        installation["isolation"] = isolation
    configuration = draw(CONFIGURATIONS)
    if configuration is not None:
        installation["configuration"] = configuration
    return {"module": spec, "installation": installation}


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}


def _terminal(obj: dict[str, Any], generation: int) -> bool:
    """Ready, or a failure that names itself (Stalled with a reason); nothing in between."""
    conditions = _conditions(obj)
    if obj.get("status", {}).get("observedGeneration") != generation:
        return False
    if "Reconciling" in conditions:
        return False
    ready, stalled = conditions.get("Ready"), conditions.get("Stalled")
    if ready and ready["status"] == "True":
        return True
    return bool(stalled and stalled["status"] == "True" and stalled["reason"])


def _explained(obj: dict[str, Any]) -> None:
    conditions = _conditions(obj)
    ready = conditions["Ready"]
    assert r.known(ready["reason"]), obj
    assert ready["message"], obj
    if ready["status"] != "True":
        stalled = conditions["Stalled"]
        assert r.describe(stalled["reason"]).kind == "permanent", stalled
        assert stalled["message"], stalled
    progress = obj["status"].get("kopf", {}).get("progress")
    assert not progress, f"Kopf is still retrying a handler: {progress}"


FIELD_PATH = re.compile(r"\bspec(\.[A-Za-z]+|\[\d+\])")


def _apply(kubectl: Kubectl, document: dict[str, Any]) -> dict[str, Any] | None:
    result = kubectl("create", "-f", "-", stdin=yaml.safe_dump(document), check=False)
    if result.returncode != 0:
        # refused by the schema or CEL: the message names the offending field's path
        assert FIELD_PATH.search(result.stderr), result.stderr
        return None
    kind = document["kind"].lower()
    name = document["metadata"]["name"]
    obj: dict[str, Any] = kubectl.wait_for(
        lambda: (
            (o := kubectl.json("get", kind, name))
            and _terminal(o, o["metadata"]["generation"])
            and o
        ),
        timeout=90,
    )
    _explained(obj)
    return obj


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=scenario())
def test_whatever_the_apiserver_accepts_ends_terminal_and_explained(
    kubectl: Kubectl, operator: ServiceProcess, case: dict[str, Any]
) -> None:
    module_id = case["module"]["moduleId"]
    module = {
        "apiVersion": "modules.adxcore.com/v1alpha1",
        "kind": "Module",
        "metadata": {"name": module_id},
        "spec": case["module"],
    }
    installation = {
        "apiVersion": "modules.adxcore.com/v1alpha1",
        "kind": "ModuleInstallation",
        "metadata": {"name": module_id},
        "spec": case["installation"],
    }
    try:
        published = _apply(kubectl, module)
        event(f"module {'refused' if published is None else published['status']['phase']}")
        installed = _apply(kubectl, installation)
        event(f"installation {'refused' if installed is None else installed['status']['phase']}")
    finally:
        kubectl("delete", "mi", module_id, "--ignore-not-found", "--timeout=30s")
        kubectl("delete", "module", module_id, "--ignore-not-found", "--wait=false")
    assert "Traceback" not in operator.log()
