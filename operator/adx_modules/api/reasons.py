"""Condition and Event reasons: every reason the service writes, spelled once, with its meaning.

Why it exists: a reason is written where a failure is raised and read by the retry policy, by
the condition it sets, by the docs and by people's scripts (``kubectl wait``, alerts). Each is
declared here once, with

- its *kind*: ``progress`` (all is well), ``transient`` (retried by the service itself, with
  backoff) or ``permanent`` (bad input or a decision: never retried, a human must act);
- the domain *condition* a failure of that reason sets to False (besides ``Ready`` and
  ``Stalled``), e.g. ``ModuleNotFound`` sets ``Resolved``.

The workflows' retry policy (what is never retried) and the set of resolution failures are
derived from this table, so a reason cannot be retryable in one place and permanent in another.
Writing or raising a reason that is not here is refused at run time (``StatusUpdate`` and
``StepError`` check), and a unit test scans the package for reasons spelled anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from adx_modules.api.conditions import (
    ACCEPTED,
    ENTITLED,
    HEALTHY,
    INSTALLED,
    REMEDIATED,
    RESOLVED,
    SCANNED,
)

Kind = Literal["progress", "transient", "permanent"]


@dataclass(frozen=True)
class Reason:
    """One reason: its CamelCase name, kind, the condition it sets and what it means."""

    name: str
    kind: Kind
    meaning: str
    condition: str | None = None

    @property
    def retryable(self) -> bool:
        return self.kind != "permanent"


REASONS: dict[str, Reason] = {}


def _reason(name: str, kind: Kind, meaning: str, condition: str | None = None) -> str:
    if name in REASONS:
        raise ValueError(f"reason {name} is declared twice")
    REASONS[name] = Reason(name, kind, meaning, condition)
    return name


def known(name: str) -> bool:
    """Whether ``name`` is a reason of the taxonomy."""
    return name in REASONS


def describe(name: str) -> Reason:
    """The reason ``name``; KeyError names it when the taxonomy does not know it."""
    try:
        return REASONS[name]
    except KeyError:
        raise KeyError(f"reason {name!r} is not in adx_modules.api.reasons") from None


def permanent() -> list[str]:
    """Every reason that is never retried (the retry policy's non-retryable error types)."""
    return sorted(r.name for r in REASONS.values() if r.kind == "permanent")


def setting(condition: str) -> tuple[str, ...]:
    """The failure reasons that set ``condition`` to False."""
    return tuple(sorted(r.name for r in REASONS.values() if r.condition == condition))


# --- progress and success ----------------------------------------------------------------------
AVAILABLE: Final = _reason("Available", "progress", "a Module passed validation; installable")
VALID: Final = _reason("Valid", "progress", "the spec passed the operator's checks")
RESOLVED_REASON: Final = _reason("ModuleResolved", "progress", "a version matching was chosen")
LINKED: Final = _reason("ModuleLinked", "progress", "a listing found its module")
PENDING: Final = _reason("Pending", "progress", "accepted; waiting for the lifecycle to start")
PROGRESSING: Final = _reason("Progressing", "progress", "a lifecycle workflow is at work")
SUCCEEDED: Final = _reason("Succeeded", "progress", "the step or the workflow succeeded")
ROLLBACK_SUCCEEDED: Final = _reason(
    "RollbackSucceeded", "progress", "a failed update was rolled back to the previous revision"
)
NOT_SCANNED: Final = _reason("NotScanned", "progress", "the module has no security score yet")
SCAN_PENDING: Final = _reason("ScanPending", "progress", "a valid Module waits for its scan")
SCANNING: Final = _reason("Scanning", "progress", "the Module's artifact is being scanned")
SCAN_PASSED: Final = _reason(
    "ScanPassed", "progress", "the scan's score meets security.min_security_score"
)
SCANNING_DISABLED: Final = _reason(
    "ScanningDisabled",
    "progress",
    "security.scanning_enabled is false: modules are installable unscanned (an operator's choice)",
)
DRY_RUN: Final = _reason("DryRun", "progress", "spec.dryRun: the plan is shown, nothing runs")
UNINSTALLED: Final = _reason("Uninstalled", "progress", "Event: the module was uninstalled")
UNINSTALLED_WITH_FORCE: Final = _reason(
    "UninstalledWithForce",
    "progress",
    "Event: uninstalled, but cleanup failed; the garbage collector removes owned objects",
)
STEP: Final = _reason("Progress", "progress", "Event: a lifecycle step without a phase change")
LEADER_ELECTION: Final = _reason(
    "LeaderElection",
    "progress",
    "Event on the operator's Lease: a replica became leader, or lost the Lease and exits (it "
    "restarts as a standby)",
)

# --- transient: the service retries by itself --------------------------------------------------
RETRYING: Final = _reason(
    "Retrying", "transient", "a dependency (Temporal, the apiserver) is away; retried with backoff"
)
SERVICE_UNAVAILABLE: Final = _reason(
    "ServiceUnavailable",
    "transient",
    "the Kubernetes API, PostgreSQL or Temporal did not answer; retried with backoff, then the "
    "step fails with this reason",
    INSTALLED,
)
SCANNER_UNAVAILABLE: Final = _reason(
    "ScannerUnavailable",
    "transient",
    "a scanner (Trivy) could not run; retried with backoff, the module not Available meanwhile",
    SCANNED,
)
STEP_FAILED: Final = _reason(
    "StepFailed",
    "transient",
    "a step failed unexpectedly (a bug); retried, then reported with this reason",
    INSTALLED,
)

# --- permanent: bad input or a decision; a human must act --------------------------------------
BLOCKED: Final = _reason("Blocked", "permanent", "waiting for a human (approve permissions)")
INVALID_SPEC: Final = _reason("InvalidSpec", "permanent", "the spec is invalid", ACCEPTED)
INVALID_CONFIG_SCHEMA: Final = _reason(
    "InvalidConfigSchema", "permanent", "a Module's configSchema is not a JSON Schema", ACCEPTED
)
INVALID_CONFIGURATION: Final = _reason(
    "InvalidConfiguration", "permanent", "the configuration fails the configSchema", ACCEPTED
)
INVALID_CONSTRAINT: Final = _reason(
    "InvalidVersionConstraint", "permanent", "a version constraint does not parse", RESOLVED
)
DUPLICATE_VERSION: Final = _reason(
    "DuplicateVersion", "permanent", "a second Module publishes a published version", ACCEPTED
)
ARTIFACT_NOT_FOUND: Final = _reason(
    "ArtifactNotFound", "permanent", "the registry has no artifact with that digest", SCANNED
)
ARTIFACT_INVALID: Final = _reason(
    "ArtifactInvalid",
    "permanent",
    "the artifact is not what its reference says (a tag, not a digest; bytes that do not match "
    "their digest; no layer of the expected type; too large)",
    SCANNED,
)
MODULE_NOT_FOUND: Final = _reason(
    "ModuleNotFound", "permanent", "no Module with that moduleId exists", RESOLVED
)
NO_MATCHING_VERSION: Final = _reason(
    "NoMatchingVersion", "permanent", "no Available version matches the constraint", RESOLVED
)
MODULE_WITHDRAWN: Final = _reason(
    "ModuleWithdrawn",
    "permanent",
    "the Module an installation runs was deleted; it keeps running, pinned by digest, until "
    "updated or uninstalled",
    RESOLVED,
)
MODULE_NOT_AVAILABLE: Final = _reason(
    "ModuleNotAvailable", "permanent", "the chosen Module is not Available", RESOLVED
)
ISOLATION_DISABLED: Final = _reason(
    "IsolationDisabled", "permanent", "the isolation is disabled by the settings", ACCEPTED
)
ISOLATION_UNAVAILABLE: Final = _reason(
    "IsolationUnavailable", "permanent", "no sandbox backend for that isolation yet", ACCEPTED
)
MODULE_NOT_TRUSTED: Final = _reason(
    "ModuleNotTrusted",
    "permanent",
    "isolation none is only for the modules sandbox.trusted_modules lists",
    ACCEPTED,
)
MODULE_WORKFLOW_UNKNOWN: Final = _reason(
    "ModuleWorkflowUnknown",
    "permanent",
    "the installation's module declares no workflow of that name (or the installation is gone)",
)
MODULE_WORKFLOW_INPUT_INVALID: Final = _reason(
    "ModuleWorkflowInputInvalid",
    "permanent",
    "a module workflow's input does not satisfy the inputSchema its module declares",
)
MODULE_WORKFLOW_FAILED: Final = _reason(
    "ModuleWorkflowFailed",
    "transient",
    "a module workflow's step failed; retried up to its declared attempts",
)
INVALID_MODULE: Final = _reason(
    "InvalidModule", "permanent", "the module cannot run in the chosen sandbox", INSTALLED
)
SECURITY_SCORE_TOO_LOW: Final = _reason(
    "SecurityScoreTooLow", "permanent", "the module's score is below the minimum", INSTALLED
)
HEALTH_CHECK_FAILED: Final = _reason(
    "HealthCheckFailed", "permanent", "the sandbox did not become healthy in time", HEALTHY
)
MODULE_FAILING: Final = _reason(
    "ModuleFailing",
    "transient",
    "most of the module's recent calls failed in the WASM host, or its process in the runner "
    "keeps ending (it keeps serving, or is started again)",
    HEALTHY,
)
MODULE_SERVING: Final = _reason(
    "ModuleServing", "progress", "the module's recent calls in the WASM host succeed again"
)
ENTITLEMENT_REQUIRED: Final = _reason(
    "EntitlementRequired",
    "permanent",
    "the module is paid and the tenant holds no entitlement to it: it waits (AwaitingPurchase) "
    "until a purchase of its listing is confirmed",
    ENTITLED,
)
ENTITLEMENT_REVOKED: Final = _reason(
    "EntitlementRevoked",
    "permanent",
    "the tenant's entitlement to the paid module was revoked (its purchase was refunded); "
    "marketplace.revocation_policy was applied",
    ENTITLED,
)
PURCHASED: Final = _reason(
    "Purchased", "progress", "the tenant holds an entitlement to the paid module"
)
PAYMENT_PROVIDER_DISABLED: Final = _reason(
    "PaymentProviderDisabled",
    "permanent",
    "a purchase names a payment provider this service has not enabled (Stripe needs "
    "marketplace.stripe_api_key)",
)
FREE_MODULE: Final = _reason("FreeModule", "progress", "the module is free: nothing to buy")
DEPENDENCY_PENDING: Final = _reason(
    "DependencyPending",
    "progress",
    "the dependencies cannot be resolved yet and a Module they need is still being judged "
    "(scanned); resolved again once it is",
    RESOLVED,
)
DEPENDENCY_CONFLICT: Final = _reason(
    "DependencyConflict", "permanent", "no set of versions fits every constraint", RESOLVED
)
DEPENDENCY_CYCLE: Final = _reason(
    "DependencyCycle", "permanent", "the dependencies form a cycle", RESOLVED
)
DEPENDENCY_TOO_COMPLEX: Final = _reason(
    "DependencyTooComplex", "permanent", "the resolution exceeded its budget", RESOLVED
)
DEPENDENCY_FAILED: Final = _reason(
    "DependencyFailed", "permanent", "a dependency's installation failed", INSTALLED
)
BREAKS_DEPENDENTS: Final = _reason(
    "BreaksDependents", "permanent", "the update would break an installed dependent", RESOLVED
)
REQUIRED_BY_OTHERS: Final = _reason(
    "RequiredByOthers", "permanent", "an uninstall waits: other installations require this one"
)
OBJECT_CONFLICT: Final = _reason(
    "ObjectConflict",
    "permanent",
    "an object the sandbox needs already exists and is not this installation's; it is left "
    "untouched",
    INSTALLED,
)
SANDBOX_LIMIT_REACHED: Final = _reason(
    "SandboxLimitReached",
    "permanent",
    "sandbox.max_sandboxes sandboxes already run; uninstall one or raise the setting",
    INSTALLED,
)
KUBERNETES_REFUSED: Final = _reason(
    "KubernetesRefused",
    "permanent",
    "the Kubernetes API refused a request (400, 403, 404, 409, 422); not retried",
    INSTALLED,
)
ROLLBACK_FAILED: Final = _reason(
    "RollbackFailed", "permanent", "the rollback itself failed", REMEDIATED
)
CLEANUP_FORCED: Final = _reason(
    "CleanupForced", "permanent", "uninstall cleanup kept failing; owner references remain"
)
UNINSTALL_FAILED: Final = _reason("UninstallFailed", "permanent", "Event: the uninstall failed")
