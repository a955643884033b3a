"""The module runner as the tests and the benchmark drive it: a runner process on the test stack,
SDK modules packaged with ``adx-module-cli package``'s own code, installed through the worker's
own ``process`` backend steps and called over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from adx_modules.api.installation import ModuleInstallationSpec
from adx_modules.api.module import ModuleSpec
from adx_modules.authoring.package import build
from adx_modules.authoring.scaffold import manifest_for
from adx_modules.core.settings import Settings
from adx_modules.devstack.stack import runner_environment
from adx_modules.sandboxes.contract import HealthRequest, ProvisionRequest
from adx_modules.sandboxes.runner.backend import RunnerBackend
from support.operator import ServiceProcess
from support.wasm import NAMESPACE, Files, ref


def runner_process(
    stack_env: dict[str, str], schema: str, work: Path, **settings: str
) -> ServiceProcess:
    """``adx-module-service runner`` on the stack, with its own ports, token, schema and work
    directory; ``settings`` as ADX_RUNNER_<NAME> (not started)."""
    runner = runner_environment(None, None)
    env = {
        **stack_env,
        **runner,
        "ADX_DATABASE_SCHEMA_NAME": schema,
        "ADX_RUNNER_WORK_DIR": str(work / "runner"),
        **{f"ADX_RUNNER_{name.upper()}": value for name, value in settings.items()},
    }
    return ServiceProcess(
        "runner", env, work / "runner.log", ready_url=f"{runner['ADX_RUNNER_ADMIN_URL']}/readyz"
    )


def settings_of(runner: ServiceProcess) -> Settings:
    env = runner.env
    return Settings.model_validate(
        {
            "runner": {
                "admin_url": env["ADX_RUNNER_ADMIN_URL"],
                "invoke_url": env["ADX_RUNNER_INVOKE_URL"],
                "admin_token": env["ADX_RUNNER_ADMIN_TOKEN"],
            },
        }
    )


def package(
    files: Files,
    name: str,
    version: str,
    code: str,
    runtime: str = "python",
    *,
    extra: dict[str, str] | None = None,
    **manifest: Any,
) -> ModuleSpec:
    """A Module whose package (``src/module.py``, or ``src/module.js`` for javascript, =
    ``code``; ``extra`` more files by relative path) ``files`` serves, by URL and SHA-256,
    built as ``adx-module-cli package`` does, with the migrations it packaged."""
    source = files.root / f"src-{name}-{version}"
    (source / "src").mkdir(parents=True, exist_ok=True)
    entry = "module.js" if runtime == "javascript" else "module.py"
    (source / "src" / entry).write_text(code)
    for relative, text in (extra or {}).items():
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / relative).write_text(text)
    document = {**manifest_for(name, runtime), "version": version, **manifest}
    (source / "manifest.json").write_text(json.dumps(document))
    built = build(source / "manifest.json", files.root / f"{name}-{version}.adx")
    migrations = (built.manifest.get("extensionPoints") or {}).get("migrations")
    if migrations:
        document["extensionPoints"] = {
            **document.get("extensionPoints", {}),
            "migrations": migrations,
        }
    return ModuleSpec.model_validate(
        {
            **document,
            "artifact": {
                "package": {
                    "url": f"{files.url}/{name}-{version}.adx",
                    "sha256": built.digest.removeprefix("sha256:"),
                }
            },
        }
    )


async def install(
    backend: RunnerBackend,
    module: ModuleSpec,
    name: str,
    *,
    revision: int = 1,
    approved: list[str] | None = None,
    configuration: dict[str, Any] | None = None,
    namespace: str = NAMESPACE,
    isolation: str = "process",
) -> str:
    """Provision, wait until serving, activate: what the install workflow does; the endpoint."""
    installation = ModuleInstallationSpec.model_validate(
        {
            "module": module.module_id,
            "approvedPermissions": list(module.permissions) if approved is None else approved,
            "configuration": configuration or {},
        }
    )
    result = await backend.provision(
        ProvisionRequest(
            ref=ref(name, namespace),
            spec=installation,
            module=module,
            isolation=isolation,
            revision=revision,
        )
    )
    await backend.wait_healthy(
        HealthRequest(ref=ref(name, namespace), timeout_seconds=60, isolation=isolation),
        lambda _: None,
    )
    await backend.activate(ref(name, namespace), True)
    return result.endpoints[0].url


async def call(
    client: httpx.AsyncClient, endpoint: str, route: str, body: Any = None, method: str = "POST"
) -> httpx.Response:
    content = json.dumps(body).encode() if body is not None else b""
    return await client.request(method, f"{endpoint}{route}", content=content, timeout=60)
