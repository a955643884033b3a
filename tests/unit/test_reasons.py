"""The failure taxonomy: every reason declared once, the retry policy derived from it, and no
reason spelled anywhere else in the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from adx_modules.api import conditions as c
from adx_modules.api import reasons as r
from adx_modules.clients.errors import ConflictError, InvalidError, UnavailableError
from adx_modules.core.errors import StepError
from adx_modules.core.explain import explain
from adx_modules.core.failures import as_application_error
from adx_modules.installations.workflows.runner import NON_RETRYABLE, failure_conditions

PACKAGE = Path(__file__).parents[2] / "operator" / "adx_modules"
# calls whose reason argument (by position or keyword) must come from the taxonomy
REASON_ARGUMENT = {
    "condition": 2,
    "ready": 0,
    "reconciling": 0,
    "stalled": 0,
    "StepError": 0,
    "ApplicationError": None,
    "post_event": 2,
    "event": None,
}


def _literal_reasons(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
        if name not in REASON_ARGUMENT:
            continue
        position = REASON_ARGUMENT[name]
        keyword = "type" if name == "ApplicationError" else "reason"
        candidates = [k.value for k in node.keywords if k.arg == keyword]
        if position is not None and len(node.args) > position:
            candidates.append(node.args[position])
        for value in candidates:
            for leaf in ast.walk(value):
                if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str) and leaf.value:
                    found.append((node.lineno, leaf.value))
    return found


def test_no_reason_is_spelled_outside_the_taxonomy() -> None:
    spelled = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "reasons.py" or "devstack" in path.parts:
            continue
        for line, text in _literal_reasons(ast.parse(path.read_text())):
            spelled.append(f"{path.relative_to(PACKAGE)}:{line}: {text!r}")
    assert spelled == []


def test_the_scan_would_catch_a_literal() -> None:
    tree = ast.parse('update.stalled("Oops", "m")\nraise StepError("Nope", "m")')
    assert [text for _, text in _literal_reasons(tree)] == ["Oops", "Nope"]


def test_the_retry_policy_is_derived_from_the_taxonomy() -> None:
    assert set(NON_RETRYABLE) == {x.name for x in r.REASONS.values() if x.kind == "permanent"}
    assert r.OBJECT_CONFLICT in NON_RETRYABLE
    assert r.SERVICE_UNAVAILABLE not in NON_RETRYABLE


def test_every_failure_condition_is_a_real_condition_type() -> None:
    for reason in r.REASONS.values():
        assert reason.condition is None or reason.condition in c.CONDITION_TYPES, reason


def test_an_unknown_reason_cannot_be_raised() -> None:
    with pytest.raises(KeyError, match=r"'SomethingNew' is not in adx_modules\.api\.reasons"):
        StepError("SomethingNew", "a reason nobody declared")


@pytest.mark.parametrize(
    ("error", "reason", "retried"),
    [
        (StepError(r.DEPENDENCY_CONFLICT, "x"), r.DEPENDENCY_CONFLICT, False),
        (StepError(r.SERVICE_UNAVAILABLE, "x"), r.SERVICE_UNAVAILABLE, True),
        (
            InvalidError("PATCH Deployment x: field is immutable", status=422),
            "KubernetesRefused",
            False,
        ),
        (ConflictError("POST x: already exists", status=409), "KubernetesRefused", False),
        (UnavailableError("GET x: the Kubernetes API answered 503"), "ServiceUnavailable", True),
        (ConnectionRefusedError("connection refused"), "ServiceUnavailable", True),
        (ZeroDivisionError("division by zero"), "StepFailed", True),
    ],
)
def test_the_activity_boundary_maps_each_failure_once(
    error: Exception, reason: str, retried: bool
) -> None:
    mapped = as_application_error(error)
    assert mapped.type == reason
    assert mapped.non_retryable is not retried
    assert r.known(mapped.type)


def test_a_foreign_type_never_becomes_a_condition_reason() -> None:
    foreign = ApplicationError(
        "(422) Reason: Unprocessable Entity HTTP response headers: ...", type="ApiException"
    )
    assert explain(foreign)[0] == r.STEP_FAILED


def test_failure_conditions_follow_the_taxonomy() -> None:
    types = {t for t, *_ in failure_conditions("resolve", r.MODULE_NOT_FOUND, "gone")}
    assert types == {c.INSTALLED, c.RESOLVED}
    types = {t for t, *_ in failure_conditions("wait-healthy", r.HEALTH_CHECK_FAILED, "slow")}
    assert types == {c.INSTALLED, c.HEALTHY}
