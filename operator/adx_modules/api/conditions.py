"""Condition types and reasons: the vocabulary of ``status.conditions``, in one place.

Why it exists: handlers, workflows, docs and tests must spell every condition the same way, and
tools read them: ``kubectl wait --for=condition=Ready``, kstatus (Flux, Argo CD health checks)
and people. Conventions follow Kubernetes API conventions and kstatus:

- ``Ready`` is the rollup: True only when the object is fully reconciled and working.
- ``Reconciling`` is True while work is in flight (abnormal-true: absent when idle).
- ``Stalled`` is True when progress needs a human (abnormal-true: absent when fine).
- domain conditions say which part is (not) done.

Reasons are CamelCase and stable, declared once in :mod:`adx_modules.api.reasons`; messages
are for humans and may change.
"""

from __future__ import annotations

from typing import Final

# --- types -------------------------------------------------------------------------------------
READY: Final = "Ready"
RECONCILING: Final = "Reconciling"
STALLED: Final = "Stalled"
ACCEPTED: Final = "Accepted"  # the operator validated what the apiserver could not
RESOLVED: Final = "Resolved"  # references (module, versions, dependencies) resolve
PERMISSIONS_APPROVED: Final = "PermissionsApproved"
ENTITLED: Final = "Entitled"  # a paid module: the tenant holds an entitlement (a purchase)
SCANNED: Final = "Scanned"
INSTALLED: Final = "Installed"
HEALTHY: Final = "Healthy"
REMEDIATED: Final = "Remediated"

CONDITION_TYPES: Final = (
    READY,
    RECONCILING,
    STALLED,
    ACCEPTED,
    RESOLVED,
    PERMISSIONS_APPROVED,
    ENTITLED,
    SCANNED,
    INSTALLED,
    HEALTHY,
    REMEDIATED,
)
