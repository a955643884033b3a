"""The HTTP API keeps its committed contract under fuzzing: Schemathesis sends what
docs/openapi.json allows (and what it does not) to a running API, with a valid token of a
tenant that may act in its namespace and read the catalog, and finds no server error, no
status the contract does not declare, and no response that violates its schema.

Real apiserver (TokenReview, SubjectAccessReview), PostgreSQL and Temporal; the API runs as
users run it, with a rate high enough that the fuzzer's volume is not refused as abuse.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from support.kube import Kubectl
from support.operator import api_of_its_own
from support.stack import StackInfo
from support.tenants import Tenant, catalog_reader_role

CONTRACT = schemathesis.openapi.from_path(Path(__file__).parents[2] / "docs" / "openapi.json")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True)
class Target:
    url: str
    headers: dict[str, str]


@pytest.fixture(scope="module")
def target(
    stack: StackInfo, service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    kubectl = Kubectl(stack.kubeconfig)
    namespace = "fuzzed-tenant"
    kubectl("create", "namespace", namespace, check=False)
    kubectl.apply(catalog_reader_role())
    tenant = Tenant(kubectl, namespace)
    logs = tmp_path_factory.mktemp("contract")
    with api_of_its_own(service_env, logs, ADX_SERVER_REQUESTS_PER_SECOND="100000") as url:
        yield Target(url, tenant.headers)
    kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@CONTRACT.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_keeps_its_contract(case: schemathesis.Case, target: Target) -> None:
    case.call_and_validate(base_url=target.url, headers=target.headers, checks=CHECKS)
