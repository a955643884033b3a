"""Console entry points: ``adx-module-service`` (the service) and ``adx-module-cli`` (authors).

Why it exists: one image runs as operator, worker or API depending on its first argument, and
``dev`` runs everything locally on embedded defaults. Settings are loaded once here, so a bad
setting stops the process before anything starts, with a message naming it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from adx_modules.core.errors import DevStackError, SettingsError
from adx_modules.core.settings import Settings, load_settings
from adx_modules.service.purchases import add_arguments as add_purchase_arguments

if TYPE_CHECKING:
    from adx_modules.devstack.stack import DevStack


def _run_dev(args: argparse.Namespace, settings: Settings) -> int:
    """The whole product locally: the stack, then the operator and the worker as children."""
    from adx_modules.devstack.process import free_port  # noqa: PLC0415
    from adx_modules.devstack.stack import (  # noqa: PLC0415
        default_state_dir,
        runner_environment,
        wasm_host_environment,
    )
    from adx_modules.devstack.supervisor import run_foreground  # noqa: PLC0415

    state_dir: Path = (args.state_dir or default_state_dir()).resolve()

    def start_service(stack: DevStack) -> list[subprocess.Popen[bytes]]:
        env = {
            **os.environ,
            **stack.environment(),
            **wasm_host_environment(),
            **runner_environment(),
        }
        env.setdefault("ADX_SERVER_HEALTH_PORT", str(free_port(settings.server.health_port)))
        children = []
        logs = stack.state_dir / "logs"
        for role in LONG_RUNNING:
            role_env = {**env, "ADX_SERVER_METRICS_PORT": str(free_port(None))}
            with (logs / f"{role}.log").open("ab") as log:
                children.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "adx_modules", role],
                        env=role_env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        _print_welcome(stack, env)
        return children

    try:
        return run_foreground(state_dir, fresh=args.fresh, on_ready=start_service)
    except DevStackError as error:
        print(f"adx-module-service dev: {error}", file=sys.stderr)
        return 2


def _print_welcome(stack: DevStack, env: dict[str, str]) -> None:
    times = stack.times
    print(
        f"""
ADX Module Operator: local stack ready in {times.total:.0f}s \
(toolchain {times.toolchain:.0f}s, control plane {times.control_plane:.0f}s).

  kubectl:     export KUBECONFIG={env["KUBECONFIG"]}
               kubectl get nodes
  Temporal:    {env["ADX_TEMPORAL_ADDRESS"]} (namespace {env["ADX_TEMPORAL_NAMESPACE"]}), \
UI {env["ADX_DEVSTACK_TEMPORAL_UI"]}
  PostgreSQL:  {env["ADX_DATABASE_URL"]}
  registry:    {env["ADX_REGISTRY_ADDRESS"]} (OCI, plain HTTP on loopback; curl http://{env["ADX_REGISTRY_ADDRESS"]}/v2/_catalog)
  WASM host:   {env["ADX_WASM_INVOKE_URL"]}/v1/tenants/NAMESPACE/installations/NAME/invoke/FUNCTION
  runner:      {env["ADX_RUNNER_INVOKE_URL"]}/v1/tenants/NAMESPACE/installations/NAME/api/ROUTE
  HTTP API:    http://127.0.0.1:{env["ADX_SERVER_PORT"]}/health \
(card payments: Stripe emulator at {env["ADX_MARKETPLACE_STRIPE_API_BASE"]})
  logs:        {stack.state_dir / "logs"}
  all of it:   source {stack.env_file}

Try: kubectl get adx; kubectl apply -f manifests/samples/
Ctrl-C stops everything.
""",
        flush=True,
    )


def _service_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adx-module-service", description="The ADX Module Operator service."
    )
    parser.add_argument("--config", type=Path, default=None, help="TOML settings file")
    roles = parser.add_subparsers(dest="role", required=True, metavar="ROLE")
    for role, text in (
        ("operator", "the Kopf watch loop (cheap, one per cluster)"),
        ("worker", "the Temporal worker (all heavy work)"),
        ("api", "the HTTP API and marketplace"),
        ("wasm-host", "the shared host of every WASM module (isolation wasm)"),
        ("runner", "the module runner: Python modules in confined processes (isolation process)"),
    ):
        sub = roles.add_parser(role, help=text)
        sub.add_argument("--check", action="store_true", help="validate settings and exit")
    findings = roles.add_parser("findings", help="every finding of a Module's last scan")
    findings.add_argument("module", help="the Module's name, e.g. charts-3-2-0")
    purchases = roles.add_parser("purchases", help="buy, approve, refund, list purchases")
    add_purchase_arguments(purchases)
    dev = roles.add_parser("dev", help="everything locally on embedded defaults (make run)")
    dev.add_argument("--state-dir", type=Path, default=None, help="default: .cache/devstack")
    dev.add_argument("--fresh", action="store_true", help="start from an empty cluster")
    return parser


# the long-running roles: a module's ``run(settings)``, or its ``serve`` under the common lifetime
LONG_RUNNING = {
    "operator": ("adx_modules.service.operator", "run"),
    "worker": ("adx_modules.service.worker", "run"),
    "api": ("adx_modules.service.api", "serve"),
    "wasm-host": ("adx_modules.sandboxes.wasm.server", "serve"),
    "runner": ("adx_modules.sandboxes.runner.server", "serve"),
}


def _serve_role(role: str, settings: Settings) -> int:
    """Import the role only now (the operator must not load the worker's drivers), run it."""
    from adx_modules.service.lifetime import serve_until_signalled  # noqa: PLC0415

    module, name = LONG_RUNNING[role]
    entry = getattr(importlib.import_module(module), name)
    if name == "run":
        code: int = entry(settings)
        return code
    return serve_until_signalled(role, entry, settings)


def service_main(argv: Sequence[str] | None = None) -> int:
    """``adx-module-service ROLE``."""
    args = _service_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except SettingsError as error:
        print(f"adx-module-service: {error}", file=sys.stderr)
        return 2
    if args.role == "dev":
        return _run_dev(args, settings)
    if args.role in LONG_RUNNING:
        return 0 if args.check else _serve_role(args.role, settings)
    if args.role == "purchases":
        from adx_modules.service.purchases import run as run_purchases  # noqa: PLC0415

        return run_purchases(settings, args)
    if args.role == "findings":
        from adx_modules.service.findings import run as run_findings  # noqa: PLC0415

        return run_findings(settings, args.module)
    raise AssertionError(f"adx-module-service: role {args.role} has no entry point")


def runner_main(argv: Sequence[str] | None = None) -> int:
    """``adx-module-runner [--config FILE] [--check]``: the runner role under its own name."""
    given = list(sys.argv[1:] if argv is None else argv)
    check = ["--check"] if "--check" in given else []
    return service_main([*(a for a in given if a != "--check"), "runner", *check])


def author_main(argv: Sequence[str] | None = None) -> int:
    """``adx-module-cli COMMAND``: tools for module authors."""
    from adx_modules.authoring import commands  # noqa: PLC0415
    from adx_modules.authoring.resolve import resolve_main  # noqa: PLC0415

    mains = {
        "init": commands.init_main,
        "validate": commands.validate_main,
        "package": commands.package_main,
        "publish": commands.publish_main,
        "resolve": resolve_main,
    }
    parser = argparse.ArgumentParser(prog="adx-module-cli", description="Tools for module authors.")
    parser.add_argument("command", choices=list(mains))
    args, rest = parser.parse_known_args(argv)
    return mains[args.command](rest)
