"""Condition types and reasons: the vocabulary of ``status.conditions``, in one place.

Why it exists: handlers, workflows, docs and tests must spell every condition the same way, and
tools read them: ``kubectl wait --for=condition=Ready``, kstatus (Flux, Argo CD health checks)
and people. Conventions follow Kubernetes API conventions and kstatus:

- ``Ready`` is the rollup: True only when the object is fully reconciled and working.
- ``Reconciling`` is True while work is in flight (abnormal-true: absent when idle).
- ``Stalled`` is True when progress needs a human (abnormal-true: absent when fine).
- domain conditions say which part is (not) done.

Reasons are CamelCase and stable; messages are for humans and may change.
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
    SCANNED,
    INSTALLED,
    HEALTHY,
    REMEDIATED,
)

# --- reasons: progress and success -------------------------------------------------------------
AVAILABLE: Final = "Available"  # a Module passed validation and may be installed
VALID: Final = "Valid"
RESOLVED_REASON: Final = "ModuleResolved"
LINKED: Final = "ModuleLinked"  # a listing found its module
PENDING: Final = "Pending"  # accepted, waiting for the lifecycle to start
PROGRESSING: Final = "Progressing"
SUCCEEDED: Final = "Succeeded"
ROLLBACK_SUCCEEDED: Final = "RollbackSucceeded"
NOT_SCANNED: Final = "NotScanned"

# --- reasons: failures -------------------------------------------------------------------------
RETRYING: Final = "Retrying"  # transient: the operator tries again by itself
BLOCKED: Final = "Blocked"  # needs a human: nothing changes until the object is edited
INVALID_SPEC: Final = "InvalidSpec"
INVALID_CONFIG_SCHEMA: Final = "InvalidConfigSchema"
INVALID_CONFIGURATION: Final = "InvalidConfiguration"
INVALID_CONSTRAINT: Final = "InvalidVersionConstraint"
DUPLICATE_VERSION: Final = "DuplicateVersion"
MODULE_NOT_FOUND: Final = "ModuleNotFound"
NO_MATCHING_VERSION: Final = "NoMatchingVersion"
ISOLATION_DISABLED: Final = "IsolationDisabled"
ROLLBACK_FAILED: Final = "RollbackFailed"
