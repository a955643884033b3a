"""The whole product against the local stack: the operator and the worker run as users run them.

They share one task queue and one database schema of the session's own; every test still works
in its own namespace. The lifecycle tests publish Modules whose images exist nowhere, so this
session's operator runs with scanning disabled (an operator's explicit choice, shown on every
Module as ``Scanned=False ScanningDisabled``); ``test_scanning.py`` swaps in a pair with
scanning enabled, on artifacts pushed to the local registry. The WASM host and the module runner run
for the tests that install WASM modules and process modules, on loopback ports of their own,
with the worker's tokens.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from adx_modules.devstack.stack import runner_environment, wasm_host_environment
from support.kube import Kubectl
from support.operator import ServiceProcess
from support.stack import StackInfo


@pytest.fixture(scope="session")
def service_env(stack: StackInfo) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {
        **stack.env,
        "ADX_TEMPORAL_TASK_QUEUE": f"e2e-{suffix}",
        "ADX_DATABASE_SCHEMA_NAME": f"e2e_{suffix}",
        "ADX_SECURITY_SCANNING_ENABLED": "false",
        "ADX_SERVER_LOG_FORMAT": "json",  # as the chart runs them: every line is checked
        **wasm_host_environment(None, None),
        "ADX_WASM_HEALTH_REPORT_SECONDS": "1",
        **runner_environment(None, None),
        "ADX_RUNNER_HEALTH_REPORT_SECONDS": "1",
    }


@pytest.fixture(scope="session")
def worker(
    service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "worker", service_env, tmp_path_factory.mktemp("worker") / "worker.log"
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def operator(
    service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "operator", service_env, tmp_path_factory.mktemp("operator") / "operator.log"
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def wasm_host(
    service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "wasm-host",
        service_env,
        tmp_path_factory.mktemp("wasm-host") / "wasm-host.log",
        ready_url=f"{service_env['ADX_WASM_ADMIN_URL']}/readyz",
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def runner(
    service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    work = tmp_path_factory.mktemp("runner")
    process = ServiceProcess(
        "runner",
        {**service_env, "ADX_RUNNER_WORK_DIR": str(work / "work")},
        work / "runner.log",
        ready_url=f"{service_env['ADX_RUNNER_ADMIN_URL']}/readyz",
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def api(
    service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """The HTTP API on the stack's API port: the Stripe emulator sends its webhooks there."""
    process = ServiceProcess(
        "api",
        service_env,
        tmp_path_factory.mktemp("api") / "api.log",
        ready_url=f"http://127.0.0.1:{service_env['ADX_SERVER_PORT']}/health",
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def other_namespace(kubectl: Kubectl) -> Iterator[str]:
    name = f"other-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def api_url(service_env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{service_env['ADX_SERVER_PORT']}/api/v1"
