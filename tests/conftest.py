"""Test harness: the real local stack once per session, and per-test isolation.

Each test that needs services gets its own Kubernetes namespace, Temporal task queue and
PostgreSQL schema, so tests never see each other's objects. The stack starts once per session
(about 10 s after the first toolchain build), or is reused from ``make stack-up`` when
``ADX_TEST_STACK_ENV`` names its env file (fast iteration while developing).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from adx_modules.devstack.stack import DevStack, read_env_file
from support.kube import Kubectl
from support.stack import StackInfo, stack_home

TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(item.fspath).relative_to(TESTS).parts[0]
        if tier in ("integration", "e2e"):
            item.add_marker(getattr(pytest.mark, tier))
    # One operator watches the cluster's Modules at a time: the scanning end-to-end tests and
    # the chart's RBAC test run their own (scanning enabled), and the high-availability tests
    # two at once (one acting), so they run before the e2e session's shared one (scanning
    # disabled) starts; cheap tiers first otherwise.
    order = {"unit": 1, "integration": 2, "e2e": 3}
    first = ("test_scanning_e2e.py", "test_operator_ha.py")

    def rank(item: pytest.Item) -> tuple[int, int]:
        path = Path(item.fspath)
        return (path.name not in first, order.get(path.relative_to(TESTS).parts[0], 0))

    items.sort(key=rank)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_SESSION] = session


_SESSION = pytest.StashKey[pytest.Session]()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Exit with pytest's own verdict, before interpreter shutdown.

    The temporalio SDK can crash the interpreter at exit after all work is done (sdk-python
    issue 300), turning a green run into status 134/139; leaving here with ``os._exit`` makes
    the exit status exactly pytest's verdict.
    """
    session = config.stash.get(_SESSION, None)
    if session is None or os.environ.get("ADX_TEST_NORMAL_EXIT"):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(session.exitstatus))


@pytest.fixture(scope="session")
def stack() -> Iterator[StackInfo]:
    """The running local stack: control plane with a kwok node, Temporal, PostgreSQL."""
    reuse = os.environ.get("ADX_TEST_STACK_ENV")
    if reuse:
        env = read_env_file(Path(reuse))
        running = DevStack.attach(Path(env["ADX_DEVSTACK_DIR"]))
        running.install_crds()  # the checkout's CRDs, which may be newer than the stack's
        yield StackInfo(env, running.state_dir)
        return
    with stack_home() as state_dir, DevStack(state_dir) as running:
        yield StackInfo(running.environment(), running.state_dir)


@pytest.fixture
def unique() -> str:
    """A short unique suffix for names a test creates."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def namespace(stack: StackInfo, request: pytest.FixtureRequest, unique: str) -> Iterator[str]:
    """A namespace of this test's own, deleted afterwards (without waiting)."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40].strip("-")
    name = f"t-{base}-{unique}"
    kubectl = Kubectl(stack.kubeconfig)
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


@pytest.fixture
def kubectl(stack: StackInfo, namespace: str) -> Kubectl:
    """kubectl as cluster admin, defaulting to the test's namespace."""
    return Kubectl(stack.kubeconfig, namespace)


@pytest.fixture
def task_queue(unique: str) -> str:
    """A Temporal task queue of this test's own."""
    return f"test-{unique}"


@pytest.fixture
async def db_schema(stack: StackInfo, unique: str) -> AsyncIterator[str]:
    """A PostgreSQL schema of this test's own, dropped afterwards."""
    schema = f"test_{unique}"
    connection = await asyncpg.connect(stack.database_url)
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
        yield schema
        await connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await connection.close()
