"""Building a status patch that follows the conventions: conditions, rollups, observedGeneration.

Why it exists: every handler and workflow reports through the same rules, which are easy to get
subtly wrong by hand: ``lastTransitionTime`` changes only when a condition's status changes;
``Reconciling`` and ``Stalled`` are present only while true (kstatus "abnormal-true"); ``Ready``
is the rollup; every condition carries the generation it was computed from. Pure: the clock is
passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from adx_modules.api.conditions import READY, RECONCILING, STALLED
from adx_modules.api.meta import ConditionStatus, ObjectStatus
from adx_modules.api.reasons import describe

Event = tuple[str, str, str]  # (type, reason, message)


@dataclass(frozen=True)
class Outcome:
    """What a handler decided about an object: a status patch, the Event to post if its Ready
    state changed, and whether it was accepted."""

    patch: dict[str, Any]
    event: Event | None
    accepted: bool = False


def generation(body: Mapping[str, Any]) -> int:
    """The object's metadata.generation (1 when absent)."""
    return int(body.get("metadata", {}).get("generation") or 1)


def changes(current: Mapping[str, Any] | None, patch: Mapping[str, Any]) -> bool:
    """Whether applying ``patch`` would change ``current`` (so revisits skip no-op writes)."""
    current = current or {}
    return any(current.get(key) != value for key, value in patch.items())


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


BOOKKEEPING = ("conditions", "observed_generation", "kopf")


@cache
def _field(model: type[ObjectStatus], name: str) -> tuple[str, TypeAdapter[Any]]:
    """The wire name of a status field and a validator of its values (constraints included)."""
    info = model.model_fields.get(name)
    if info is None or name in BOOKKEEPING:
        raise KeyError(f"{model.__name__} has no field {name!r} to set")
    annotation: Any = info.annotation
    if info.metadata:
        annotation = Annotated[annotation, *info.metadata]
    return info.alias or name, TypeAdapter(annotation)


class StatusUpdate:
    """Accumulates changes to one object's status; :meth:`patch` yields the merge patch.

    Fields are set by their model's names (``installed_version``), checked against the kind's
    status model (an unknown field or a wrong value is an error, not a silent no-op) and
    written as the wire has them (``installedVersion``)."""

    def __init__(
        self,
        current: Mapping[str, Any] | None,
        generation: int,
        now: datetime,
        model: type[ObjectStatus] = ObjectStatus,
    ) -> None:
        current = current or {}
        self.generation = generation
        self.now = now
        self._model = model
        self._conditions: dict[str, dict[str, Any]] = {
            c["type"]: dict(c) for c in current.get("conditions") or [] if "type" in c
        }
        self._fields: dict[str, Any] = {}

    def condition(
        self, type_: str, status: ConditionStatus, reason: str, message: str = ""
    ) -> StatusUpdate:
        """Set a condition; its transition time moves only if its status changes. ``reason``
        must be one of :mod:`adx_modules.api.reasons` (KeyError otherwise)."""
        describe(reason)
        previous = self._conditions.get(type_) or {}
        changed = previous.get("status") != status
        self._conditions[type_] = {
            "type": type_,
            "status": status,
            "reason": reason,
            "message": message[:32768],
            "observedGeneration": self.generation,
            "lastTransitionTime": _timestamp(self.now)
            if changed
            else previous.get("lastTransitionTime", _timestamp(self.now)),
        }
        return self

    def clear(self, type_: str) -> StatusUpdate:
        """Remove a condition (how the abnormal-true Reconciling and Stalled say 'no')."""
        self._conditions.pop(type_, None)
        return self

    def ready(self, reason: str, message: str) -> StatusUpdate:
        """Done and working: Ready=True, neither Reconciling nor Stalled."""
        return self.condition(READY, "True", reason, message).clear(RECONCILING).clear(STALLED)

    def reconciling(self, reason: str, message: str) -> StatusUpdate:
        """Work in flight: Reconciling=True, Ready=False with the same explanation."""
        self.condition(RECONCILING, "True", reason, message).clear(STALLED)
        return self.condition(READY, "False", reason, message)

    def stalled(self, reason: str, message: str) -> StatusUpdate:
        """A human must act: Stalled=True, Ready=False, nothing in flight."""
        self.condition(STALLED, "True", reason, message).clear(RECONCILING)
        return self.condition(READY, "False", reason, message)

    def set(self, **fields: Any) -> StatusUpdate:
        """Set other status fields, by the status model's names; None clears one."""
        for name, value in fields.items():
            key, adapter = _field(self._model, name)
            if value is None:
                self._fields[key] = None
                continue
            try:
                valid = adapter.validate_python(value)
            except ValidationError as error:
                raise ValueError(f"status.{key}: {error}") from None
            self._fields[key] = adapter.dump_python(
                valid, mode="json", by_alias=True, exclude_none=True
            )
        return self

    def get_condition(self, type_: str) -> dict[str, Any] | None:
        return self._conditions.get(type_)

    def ready_event(self, previous: Mapping[str, Any] | None) -> Event | None:
        """The Event to post when Ready's status or reason changes (not on every resync)."""
        ready = self.get_condition(READY)
        if ready is None:
            return None
        before = [x for x in (previous or {}).get("conditions") or [] if x.get("type") == READY]
        if before and (before[0].get("status"), before[0].get("reason")) == (
            ready["status"],
            ready["reason"],
        ):
            return None
        kind = "Warning" if self.get_condition(STALLED) else "Normal"
        return kind, ready["reason"], ready["message"]

    def patch(self) -> dict[str, Any]:
        """The status merge patch: conditions in a stable order, observedGeneration set."""
        order = {name: index for index, name in enumerate((READY, RECONCILING, STALLED))}
        conditions = sorted(
            self._conditions.values(), key=lambda c: (order.get(c["type"], 9), c["type"])
        )
        return {**self._fields, "observedGeneration": self.generation, "conditions": conditions}
