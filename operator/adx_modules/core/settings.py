"""Settings: one typed object, built once at start-up, from defaults, a TOML file and ``ADX_*``.

Why it exists: every process (operator, worker, api, dev) reads the same settings in the same
way, and a wrong value must stop the process at start-up with a message naming the setting, not
surface later as a confusing failure deep inside a workflow.

Sources, later ones win:

1. the defaults below (the service's own: Temporal namespace ``adx-core``, ...);
2. TOML files with one table per section (``--config FILE`` or ``ADX_CONFIG_FILE``; else
   ``config/default.toml`` under ``config/local.toml``; the reference's names accepted:
   ``core/config_files.py``)::

       [temporal]
       address = "temporal.adx-system:7233"

3. environment variables ``ADX_<SECTION>_<FIELD>``, e.g. ``ADX_TEMPORAL_ADDRESS`` or
   ``ADX_SECURITY_MIN_SECURITY_SCORE``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from adx_modules.core import config_files
from adx_modules.core.errors import SettingsError
from adx_modules.core.sandbox_settings import RunnerSettings, SandboxSettings, Section, WasmSettings

ENV_PREFIX = "ADX_"


class ServerSettings(Section):
    """The HTTP API's address, and the ports every process serves besides its work."""

    host: str = Field("0.0.0.0", min_length=1, description="Address the HTTP API listens on.")  # noqa: S104
    port: int = Field(8086, ge=1, le=65535, description="Port of the HTTP API.")
    max_connections: int = Field(
        1000, ge=1, description="Connections the HTTP API serves at once; past it, 503."
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body the HTTP API reads (413 past it)."
    )
    requests_per_second: float = Field(
        20.0,
        gt=0,
        description="Each caller's sustained rate on the HTTP API (twice as many in a burst); "
        "past it, 429 with Retry-After.",
    )
    database_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="How long the HTTP API waits for one PostgreSQL query; past it, 503 with "
        "Retry-After.",
    )
    health_port: int = Field(8080, ge=1, le=65535, description="Port of the operator's probes.")
    metrics_port: int = Field(9090, ge=1, le=65535, description="Port of the Prometheus metrics.")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="How every process logs: text for a terminal, json (one object per line, "
        "with the custom resource's uid and the Temporal workflow id) for a log pipeline.",
    )


class DatabaseSettings(Section):
    """PostgreSQL: installations, revisions, audit trail, catalog, reviews, purchases."""

    url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/adx_modules",
        pattern=r"^postgres(ql)?://",
        description="DSN of the PostgreSQL database (postgresql://user:pass@host:port/db).",
    )
    pool_size: int = Field(10, ge=1, le=1000, description="Connections kept in the pool.")
    schema_name: str = Field(
        "public", pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="Schema of the service's tables."
    )


class TemporalSettings(Section):
    """The Temporal cluster that runs every long operation."""

    address: str = Field(
        "localhost:7233", pattern=r"^[^\s:]+:\d{1,5}$", description="host:port of Temporal."
    )
    namespace: str = Field("adx-core", min_length=1, description="Temporal namespace.")
    task_queue: str = Field("module-service", min_length=1, description="Worker task queue.")


class SecuritySettings(Section):
    """The security gate in front of every install."""

    scanning_enabled: bool = Field(True, description="Scan modules before they are Available.")
    min_security_score: int = Field(
        70, ge=0, le=100, description="Lowest score (0-100) a module may have to be installed."
    )
    scan_cache_dir: str = Field(
        "", description="Trivy's cache and database directory (default: a temporary directory)."
    )
    vulnerability_db: str = Field(
        "ghcr.io/aquasecurity/trivy-db:2",
        min_length=1,
        description="The OCI repository Trivy's vulnerability database is pulled from (a "
        "mirror in an air-gapped cluster); pulled again when older than a day.",
    )
    database_check_seconds: int = Field(
        3600,
        ge=5,
        description="How often the worker asks the database's repository for a new version; "
        "a new one rescans every scanned Module.",
    )


class RegistrySettings(Section):
    """How the worker fetches module artifacts (credentials: the Docker config file)."""

    insecure: bool = Field(
        False,
        description="Plain HTTP to the registry; honoured for a loopback registry only "
        "(the local stack's), refused for any other host.",
    )
    mirrors: str = Field(
        "",
        pattern=r"^([^=,\s]+=[^=,\s]+(,[^=,\s]+=[^=,\s]+)*)?$",
        description="Registries served by a mirror, as registry=mirror pairs separated by "
        "commas (e.g. registry.adxcore.com=127.0.0.1:5000): artifacts are fetched from the "
        "mirror, keep their names, and run pinned by digest as named.",
    )

    def mirror(self, registry: str) -> str | None:
        """The mirror that serves ``registry``, if any."""
        pairs = (pair.split("=", 1) for pair in self.mirrors.split(",") if pair)
        return next((mirror for name, mirror in pairs if name == registry), None)


class MarketplaceSettings(Section):
    """Purchases, entitlements, analytics and the remote marketplace."""

    stripe_api_key: str = Field(
        "",
        description="Secret key of the Stripe account (sk_...); empty: card payments are "
        "refused, invoices (the manual provider) still work.",
    )
    stripe_api_base: str = Field(
        "",
        pattern=r"^(https?://\S+)?$",
        description="Base URL of the Stripe API; empty: Stripe's own (the local stack points "
        "it at its Stripe emulator).",
    )
    stripe_webhook_secret: str = Field(
        "",
        description="Signing secret (whsec_...) of the webhook endpoint Stripe calls; a webhook "
        "whose Stripe-Signature does not verify against it is refused.",
    )
    payment_timeout_seconds: int = Field(
        3600,
        ge=10,
        description="How long a card purchase waits for the provider's confirmation before it "
        "asks the provider itself once, then gives up.",
    )
    invoice_timeout_seconds: int = Field(
        14 * 24 * 3600,
        ge=10,
        description="How long an invoice purchase waits for an operator to approve it.",
    )
    revocation_policy: Literal["suspend", "uninstall"] = Field(
        "suspend",
        description="What a revoked entitlement (a refund) does to the tenant's installations of "
        "the module: suspend (stop routing to it, keep its data and objects) or uninstall "
        "(delete the ModuleInstallation, which runs its uninstall).",
    )
    base_url: str = Field(
        "",
        pattern=r"^(https?://\S+)?$",
        description="A remote marketplace (another instance of this service's HTTP API) whose "
        "listings and module versions are synced in, labelled as synced; empty: no sync.",
    )
    api_key: str = Field(
        "",
        description="The bearer token the remote marketplace accepts (a token its cluster's "
        "TokenReview knows, allowed to list marketplacelistings and modules).",
    )
    sync_interval_seconds: int = Field(
        3600, ge=5, description="How often the remote marketplace is synced."
    )
    enable_analytics: bool = Field(
        True,
        description="Record usage events (installs, uninstalls, invocations) per tenant; "
        "recommendations learn from them.",
    )


class OperatorRoleSettings(Section):
    """The operator role: one replica acts at a time (a Lease), and its watch is watched."""

    leader_election: bool = Field(
        True,
        description="Replicas elect a leader through a coordination.k8s.io/v1 Lease and only "
        "the leader runs handlers; false: the process acts at once (run one replica only).",
    )
    lease_name: str = Field(
        "adx-module-operator",
        pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
        description="The Lease, in the operator's namespace (POD_NAMESPACE, else the "
        "kubeconfig's, else default).",
    )
    lease_duration_seconds: int = Field(
        15,
        ge=2,
        le=3600,
        description="How long a standby waits, on its own clock, after the Lease last changed "
        "before it takes over.",
    )
    renew_deadline_seconds: float = Field(
        10,
        gt=0,
        description="How long the leader keeps trying to renew; past it, it stops acting and "
        "the process exits (non-zero).",
    )
    retry_period_seconds: float = Field(
        2, gt=0, description="How often the leader renews and a standby tries to acquire."
    )
    watch_silence_seconds: float = Field(
        180,
        gt=0,
        description="How long the leader's Lease renewals may go without coming back through "
        "its own watch before /healthz answers 500 (the liveness probe restarts it).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> OperatorRoleSettings:
        if not (
            self.lease_duration_seconds > self.renew_deadline_seconds > self.retry_period_seconds
        ):
            raise ValueError(
                f"lease_duration_seconds ({self.lease_duration_seconds}) must exceed "
                f"renew_deadline_seconds ({self.renew_deadline_seconds}), which must exceed "
                f"retry_period_seconds ({self.retry_period_seconds}): the leader stops acting "
                "before a standby may take over"
            )
        if self.watch_silence_seconds <= self.retry_period_seconds:
            raise ValueError(
                f"watch_silence_seconds ({self.watch_silence_seconds}) must exceed "
                f"retry_period_seconds ({self.retry_period_seconds})"
            )
        return self


class Settings(Section):
    """Every setting of the service, one section per concern."""

    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    temporal: TemporalSettings = TemporalSettings()
    sandbox: SandboxSettings = SandboxSettings()
    security: SecuritySettings = SecuritySettings()
    registry: RegistrySettings = RegistrySettings()
    wasm: WasmSettings = WasmSettings()
    runner: RunnerSettings = RunnerSettings()
    marketplace: MarketplaceSettings = MarketplaceSettings()
    operator: OperatorRoleSettings = OperatorRoleSettings()


def env_name(section: str, field: str) -> str:
    """The environment variable that sets ``section.field``."""
    return f"{ENV_PREFIX}{section}_{field}".upper()


def _from_environment(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    values: dict[str, dict[str, str]] = {}
    for section, info in Settings.model_fields.items():
        section_model = info.annotation
        if not (isinstance(section_model, type) and issubclass(section_model, BaseModel)):
            raise TypeError(f"settings section {section} is not a model")
        for field in section_model.model_fields:
            name = env_name(section, field)
            if name in environ:
                values.setdefault(section, {})[field] = environ[name]
    return values


def _describe(error: ValidationError, sources: Mapping[str, Mapping[str, Any]]) -> str:
    lines = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        dotted = ".".join(location)
        where = dotted
        if len(location) == 2 and location[1] in sources.get(location[0], {}):
            where = f"{env_name(location[0], location[1])} ({dotted})"
        lines.append(f"  {where}: {item['msg']}")
    return "invalid settings:\n" + "\n".join(lines)


def load_settings(
    config_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build the settings once; raise :class:`SettingsError` naming every bad setting."""
    environ = os.environ if environ is None else environ
    from_env = _from_environment(environ)
    try:
        return Settings.model_validate(
            config_files.merge(config_files.read_files(config_file, environ), from_env)
        )
    except ValidationError as error:
        raise SettingsError(_describe(error, from_env)) from None
