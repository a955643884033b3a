"""The operator's Kopf tuning: what bounds its pace on a large catalog, and what it logs."""

from __future__ import annotations

import logging

import kopf
import pytest

from adx_modules.service.operator import _not_a_success, tune


def test_a_kind_is_not_held_to_a_trickle_by_idle_workers() -> None:
    """A worker keeps its slot for idle_timeout after its object's last event, and the slots
    are worker_limit per kind: their ratio caps the objects a kind is handled at per second
    (at 0.5 s it was 64, and a restart on 5,000 of each kind took 84 s at idle cores)."""
    settings = kopf.OperatorSettings()
    tune(settings)
    assert settings.queueing.worker_limit is not None
    assert settings.queueing.worker_limit / settings.queueing.idle_timeout >= 500


def test_events_are_posted_on_few_connections_at_a_useful_pace() -> None:
    """Kopf posts each object's Events from a poster of its own; unbounded, a burst of objects
    opens a TLS connection per poster. Bounded, the slots cap the pace as above."""
    settings = kopf.OperatorSettings()
    tune(settings)
    assert settings.posting.worker_limit is not None
    assert settings.posting.worker_limit <= 16
    assert settings.posting.worker_limit / settings.posting.idle_timeout >= 200


def _kept(message: str, level: int = logging.INFO) -> bool:
    return _not_a_success(logging.LogRecord("kopf.objects", level, "", 0, message, (), None))


@pytest.mark.parametrize(
    "message",
    [
        "Handler 'reconcile_module' succeeded.",
        "Handler 'lease-watch' succeeded.",
        "Resuming is processed: 1 succeeded; 0 failed.",
        "Creation is processed: 2 succeeded; 0 failed.",
    ],
)
def test_kopfs_success_lines_are_dropped(message: str) -> None:
    assert not _kept(message)


@pytest.mark.parametrize(
    ("message", "level"),
    [
        ("Creation is processed: 1 succeeded; 1 failed.", logging.INFO),
        ("Handler 'reconcile_installation' failed temporarily: Temporal is away", logging.ERROR),
        ("Handler 'reconcile_module' succeeded.", logging.WARNING),
        ("catalog loaded: 5000 Modules", logging.INFO),
        ("Handler 'reconcile_module' succeeded. Then more.", logging.INFO),
    ],
)
def test_failures_warnings_and_other_lines_stay(message: str, level: int) -> None:
    assert _kept(message, level)
