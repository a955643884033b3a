"""What Kopf takes as handled: the status's observedGeneration, with no handler being retried."""

from __future__ import annotations

from typing import Any

import kopf

from adx_modules.service.diffbase import ObservedGenerationDiffBase

STORAGE = ObservedGenerationDiffBase()


def body(generation: int, status: dict[str, Any] | None = None) -> kopf.Body:
    raw: dict[str, Any] = {
        "apiVersion": "modules.adxcore.com/v1alpha1",
        "kind": "ModuleInstallation",
        "metadata": {"name": "crm", "namespace": "t", "generation": generation},
        "spec": {"module": "crm", "version": "^1.0"},
    }
    if status is not None:
        raw["status"] = status
    return kopf.Body(raw)


def test_an_object_never_handled_has_no_diff_base() -> None:
    assert STORAGE.fetch(body=body(1)) is None
    assert STORAGE.fetch(body=body(1, {"phase": "Pending"})) is None


def test_the_handled_generation_is_the_current_essence() -> None:
    handled = body(3, {"observedGeneration": 3, "kopf": {"progress": {"reconcile": None}}})
    assert STORAGE.fetch(body=handled) == STORAGE.build(body=handled)
    assert STORAGE.fetch(body=handled) == {"spec": {"module": "crm", "version": "^1.0"}}


def test_a_newer_generation_is_not_handled() -> None:
    assert STORAGE.fetch(body=body(4, {"observedGeneration": 3})) is None


def test_a_handler_being_retried_is_not_handled() -> None:
    retrying = {"observedGeneration": 2, "kopf": {"progress": {"reconcile": {"retries": 1}}}}
    assert STORAGE.fetch(body=body(2, retrying)) is None


def test_storing_writes_nothing() -> None:
    patch = kopf.Patch()
    handled = body(1, {"observedGeneration": 1})
    STORAGE.store(body=handled, patch=patch, essence=STORAGE.build(body=handled))
    assert not patch
