"""How Kopf tells a change it has handled from one it has not, without a write of its own.

Why it exists: Kopf's own diff-base storage records the last handled spec in the object after
every handler run: one more write per object, on top of the status the handler writes anyway
(a quarter of the apiserver's writes on a cold start of 5,000 installations). Every handler of
this operator records what it handled in the status already, as ``observedGeneration``, the
Kubernetes convention; the apiserver bumps ``metadata.generation`` on every change of the spec.
So an object whose ``status.observedGeneration`` equals its ``metadata.generation``, with no
handler progress pending, has been handled as it is; anything else has not. Which of Kopf's
causes (create, update, resume) fires for an unhandled object does not matter here: each kind's
handler is one level-triggered function registered for all three.

What this gives up: a change that does not bump the generation (labels, annotations) no longer
calls the update handlers. None of them reads labels or annotations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

PROGRESS_FIELD = "status.kopf.progress"


def handled(body: Mapping[str, Any]) -> bool:
    """Whether the object's status says its generation was handled, with no handler being
    retried."""
    status: Mapping[str, Any] = body.get("status") or {}
    generation = (body.get("metadata") or {}).get("generation")
    progress = (status.get("kopf") or {}).get("progress") or {}
    pending = any(value for value in progress.values())
    return generation is not None and status.get("observedGeneration") == generation and not pending


class ObservedGenerationDiffBase(kopf.DiffBaseStorage):
    """The handled essence is the current one when the status says this generation was handled;
    nothing is stored."""

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        if not handled(body):
            return None  # not handled yet, or a handler is being retried
        return self.build(body=body)

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        """Nothing to store: the handler's own status write says what it handled."""
