"""The whole product against the local stack: the operator runs as users run it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.operator import OperatorProcess
from support.stack import StackInfo


@pytest.fixture(scope="session")
def operator(
    stack: StackInfo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(stack.env, tmp_path_factory.mktemp("operator") / "operator.log")
    process.start()
    yield process
    process.stop()
