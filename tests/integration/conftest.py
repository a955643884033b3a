"""Fixtures the integration tests share: a Kubernetes client on the stack, and the service's
tables migrated into the test's own schema."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from support.stack import StackInfo


@pytest.fixture
async def kube(stack: StackInfo) -> AsyncIterator[KubeClient]:
    async with await KubeClient.connect(str(stack.kubeconfig)) as client:
        yield client


@pytest.fixture
async def migrated(stack: StackInfo, db_schema: str) -> AsyncIterator[Store]:
    """The service's tables in the test's own schema."""
    async with await Store.connect(stack.database_url, schema=db_schema) as connected:
        await connected.migrate()
        yield connected
