"""The WASM host as the tests and the benchmark drive it: a host process on the test stack,
modules served over HTTP, and the worker's own ``wasm`` backend steps."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx

from adx_modules.api.installation import ModuleInstallationSpec
from adx_modules.api.module import ModuleSpec
from adx_modules.core.refs import InstallationRef
from adx_modules.core.settings import Settings
from adx_modules.devstack.stack import wasm_host_environment
from adx_modules.sandboxes.contract import HealthRequest, ProvisionRequest
from adx_modules.sandboxes.wasm.backend import WasmBackend
from support import guests
from support.operator import ServiceProcess

NAMESPACE = "tenant-a"


class Files:
    """A local HTTP server: the modules' URLs, and what the greeter fetches."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.root = root
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_: Any) -> None:
        pass


def host_process(
    stack_env: dict[str, str], schema: str, work: Path, **settings: str
) -> ServiceProcess:
    """``adx-module-service wasm-host`` on the stack, with its own ports, token and schema;
    ``settings`` as ADX_WASM_<NAME> (not started)."""
    wasm = wasm_host_environment(None, None)
    env = {
        **stack_env,
        **wasm,
        "ADX_DATABASE_SCHEMA_NAME": schema,
        "ADX_WASM_CACHE_DIR": str(work / "compiled"),
        **{f"ADX_WASM_{name.upper()}": value for name, value in settings.items()},
    }
    return ServiceProcess(
        "wasm-host", env, work / "host.log", ready_url=f"{wasm['ADX_WASM_ADMIN_URL']}/readyz"
    )


def settings_of(host: ServiceProcess, max_sandboxes: int = 100) -> Settings:
    env = host.env
    return Settings.model_validate(
        {
            "sandbox": {"max_sandboxes": max_sandboxes},
            "wasm": {
                "admin_url": env["ADX_WASM_ADMIN_URL"],
                "invoke_url": env["ADX_WASM_INVOKE_URL"],
                "admin_token": env["ADX_WASM_ADMIN_TOKEN"],
            },
        }
    )


UIDS: dict[str, str] = {}


def ref(name: str, namespace: str = NAMESPACE) -> InstallationRef:
    """The installation ``name`` of a tenant (one uid per name for the whole run)."""
    uid = UIDS.setdefault(f"{namespace}/{name}", str(uuid.uuid4()))
    return InstallationRef(namespace=namespace, name=name, uid=uid, generation=1)


def module_spec(files: Files, name: str, text: str, version: str, **spec: Any) -> ModuleSpec:
    """A wasm Module of ``text`` (or of ``binary=`` bytes) served by ``files``, by URL and
    SHA-256."""
    data = spec.pop("binary", None) or guests.binary(text)
    (files.root / f"{name}-{version}.wasm").write_bytes(data)
    return ModuleSpec.model_validate(
        {
            "moduleId": name,
            "version": version,
            "displayName": name,
            "description": "a test guest",
            "author": "Tests <tests@adxcore.com>",
            "license": "Apache-2.0",
            "runtime": "wasm",
            "artifact": {
                "wasm": {
                    "url": f"{files.url}/{name}-{version}.wasm",
                    "sha256": guests.digest(data).removeprefix("sha256:"),
                }
            },
            "extensionPoints": {"workflows": spec.pop("functions", ["greet"])},
            **spec,
        }
    )


async def install(
    backend: WasmBackend,
    files: Files,
    name: str,
    text: str,
    *,
    version: str = "1.0.0",
    revision: int = 1,
    approved: list[str] | None = None,
    configuration: dict[str, Any] | None = None,
    namespace: str = NAMESPACE,
    **spec: Any,
) -> str:
    """Provision, wait until serving, activate: what the install workflow does; the endpoint."""
    module = module_spec(files, name, text, version, **spec)
    installation = ModuleInstallationSpec.model_validate(
        {
            "module": name,
            "approvedPermissions": approved or list(module.permissions),
            "configuration": configuration or {},
        }
    )
    result = await backend.provision(
        ProvisionRequest(
            ref=ref(name, namespace),
            spec=installation,
            module=module,
            isolation="wasm",
            revision=revision,
        )
    )
    await backend.wait_healthy(
        HealthRequest(ref=ref(name, namespace), timeout_seconds=30, isolation="wasm"),
        lambda _: None,
    )
    await backend.activate(ref(name, namespace), True)
    return result.endpoints[0].url


async def invoke(
    client: httpx.AsyncClient, endpoint: str, function: str = "greet", body: Any = None
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
    return await client.post(f"{endpoint}/{function}", content=content, timeout=30)
