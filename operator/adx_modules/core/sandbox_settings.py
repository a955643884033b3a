"""The settings of where module code runs: the sandbox pool, the WASM host, the module runner.

Why it exists: these are the largest sections and the ones only the sandbox side reads; they
live apart from how settings are loaded (``core/settings.py``, which assembles them into
``Settings``), so each module stays small. ``Section`` is the base of every section: frozen,
and an unknown key is refused, naming it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from adx_modules.api.installation import Isolation


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SandboxSettings(Section):
    """How modules run: the default isolation and the limits of the sandbox pool."""

    default_isolation: Isolation = Field(
        "container", description="Isolation used when an installation names none."
    )
    max_sandboxes: int = Field(100, ge=1, description="Sandboxes (pods or WASM instances) at most.")
    enable_wasm: bool = Field(True, description="Allow isolation=wasm.")
    enable_containers: bool = Field(True, description="Allow isolation=container.")
    python_runner_image: str = Field(
        "ghcr.io/adxcore/module-runner-python:1.0.0",
        min_length=1,
        description="Image that runs python packages (.adx) in a container sandbox.",
    )
    javascript_runner_image: str = Field(
        "ghcr.io/adxcore/module-runner-javascript:1.0.0",
        min_length=1,
        description="Image that runs javascript packages (.adx) in a container sandbox.",
    )
    platform_namespace_label: str = Field(
        "adxcore.com/platform",
        min_length=1,
        description="Namespaces labelled <this>=true hold the platform's own components; "
        "modules may talk to them and they to modules.",
    )
    health_timeout_seconds: int = Field(
        300, ge=10, le=3600, description="Default time a module has to become healthy."
    )
    trusted_modules: str = Field(
        "",
        description="Comma-separated module ids that may run with isolation none (in the "
        "module runner's own process, unconfined); any other module asking for none is refused "
        "at admission, with the reason.",
    )

    @property
    def trusted(self) -> frozenset[str]:
        return frozenset(m.strip() for m in self.trusted_modules.split(",") if m.strip())


class WasmSettings(Section):
    """The WASM host (``adx-module-service wasm-host``) and how the worker reaches it."""

    admin_url: str = Field(
        "http://adx-wasm-host.adx-system.svc:8091",
        pattern=r"^https?://",
        description="Where the worker registers installations (the host's admin port).",
    )
    invoke_url: str = Field(
        "http://adx-wasm-host.adx-system.svc:8090",
        pattern=r"^https?://",
        description="Where the platform invokes modules (recorded in status.endpoints).",
    )
    service_host: str = Field(
        "adx-wasm-host.adx-system.svc.cluster.local",
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="DNS name of the host's Service: each WASM installation gets a Service "
        "mod-<name> in its namespace that points there (an ExternalName).",
    )
    admin_token: str = Field(
        "",
        description="Bearer token of the admin API, shared by the worker and the host "
        "(the chart keeps it in a Secret); the host refuses to start without one.",
    )
    listen_host: str = Field(
        "0.0.0.0",  # noqa: S104 - in a pod; the NetworkPolicy decides who reaches it
        min_length=1,
        description="Address the host binds.",
    )
    invoke_port: int = Field(8090, ge=1, le=65535, description="The host's invocation port.")
    admin_port: int = Field(8091, ge=1, le=65535, description="The host's admin and probe port.")
    cache_dir: str = Field(
        "", description="Compiled modules, by digest (default: a temporary directory)."
    )
    threads: int = Field(4, ge=1, le=256, description="Calls that run at once, across modules.")
    max_concurrency: int = Field(
        8, ge=1, le=1024, description="Calls in flight per installation; more answer 429."
    )
    storage_quota_bytes: int = Field(
        1 * 2**20, ge=0, description="adx.storage bytes (keys and values) per installation."
    )
    http_requests_per_second: float = Field(
        10, gt=0, description="adx.http_fetch requests per second per installation (burst 2x)."
    )
    sync_seconds: float = Field(
        5, gt=0, le=3600, description="How often the host re-reads its registrations."
    )
    health_report_seconds: float = Field(
        15,
        gt=0,
        le=3600,
        description="How often the host judges each installation's latest calls and, when "
        "that changes, sets its Healthy condition.",
    )


class RunnerSettings(Section):
    """The module runner (``adx-module-service runner``): Python modules of isolation
    ``process`` (each in its own confined process) and ``none`` (trusted modules only)."""

    admin_url: str = Field(
        "http://adx-runner.adx-system.svc:8093",
        pattern=r"^https?://",
        description="Where the worker registers installations (the runner's admin port); "
        "with deployment_template, {service} and {namespace} stand for the tenant's runner "
        "Service and its namespace.",
    )
    invoke_url: str = Field(
        "http://adx-runner.adx-system.svc:8092",
        pattern=r"^https?://",
        description="Where the platform calls modules' API routes (in status.endpoints); "
        "{service} and {namespace} as in admin_url.",
    )
    admin_token: str = Field(
        "",
        description="Bearer token of the admin API, shared by the worker and the runner; the "
        "runner refuses to start without one.",
    )
    deployment_template: str = Field(
        "",
        description="Path of a runner Deployment (YAML; the chart mounts one): each tenant's "
        "modules then run in a Deployment of their own made from it, adx-runner-<tenant> in "
        "the template's namespace, created with the tenant's first process installation and "
        "removed with its last. Empty: the one runner at admin_url serves every tenant.",
    )
    tenant: str = Field(
        "",
        description="The only tenant namespace this runner serves (each tenant's runner "
        "Deployment sets it); empty: every tenant.",
    )
    listen_host: str = Field(
        "0.0.0.0",  # noqa: S104 - in a pod; the NetworkPolicy decides who reaches it
        min_length=1,
        description="Address the runner binds.",
    )
    invoke_port: int = Field(8092, ge=1, le=65535, description="Where API routes are served.")
    admin_port: int = Field(8093, ge=1, le=65535, description="The admin and probe port.")
    work_dir: str = Field(
        "", description="Unpacked packages and each module's working directory (default: temp)."
    )
    request_timeout_seconds: float = Field(
        30,
        gt=0,
        le=3600,
        description="Longest an API route may take; past it the module's process is killed "
        "and started again (a spinning handler cannot be interrupted otherwise).",
    )
    start_timeout_seconds: float = Field(
        30, gt=0, le=600, description="Longest a module may take to initialize and start."
    )
    max_processes: int = Field(
        32, ge=1, le=4096, description="Processes (and threads) a module's process may have."
    )
    open_files: int = Field(256, ge=16, le=65536, description="Open files per module process.")
    storage_quota_bytes: int = Field(
        1 * 2**20, ge=0, description="sdk.storage bytes (keys and values) per installation."
    )
    http_requests_per_second: float = Field(
        10, gt=0, description="sdk.http requests per second per installation (burst 2x)."
    )
    sync_seconds: float = Field(
        5, gt=0, le=3600, description="How often the runner re-reads its registrations."
    )
    health_report_seconds: float = Field(
        15,
        gt=0,
        le=3600,
        description="How often the runner judges each installation (does its process keep "
        "ending?) and, when that changes, sets its Healthy condition.",
    )
