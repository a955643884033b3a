"""The remote marketplace's sync: another instance of this service (a second local stack with its
own apiserver, and its HTTP API) is the remote; a worker set to it pulls its listings and
module versions in, labelled as synced, never overwrites a local object of the same name,
follows a change, and, when the remote fails, records the failure and removes nothing.

Two real control planes, real Temporal, PostgreSQL; the API and the worker as users run them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adx_modules.clients.postgres import Store
from adx_modules.devstack.stack import DevStack
from adx_modules.marketplace.activities.sync import source_label
from support.kube import Kubectl
from support.objects import listing_doc, module_doc
from support.operator import ServiceProcess
from support.stack import stack_home

pytestmark = pytest.mark.usefixtures("operator")
SYNCED_FROM = "modules.adxcore.com/synced-from"


@dataclass
class Remote:
    kubectl: Kubectl
    api: ServiceProcess
    url: str
    token: str


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    """A second stack and its HTTP API; a ServiceAccount there that may read the catalog."""
    with stack_home() as home, DevStack(home) as stack:
        env = stack.environment()
        kubectl = Kubectl(Path(env["KUBECONFIG"]))
        kubectl("create", "serviceaccount", "syncer", "-n", "default")
        kubectl(
            "create", "clusterrole", "catalog-reader", "--verb=get,list,watch",
            "--resource=marketplacelistings.modules.adxcore.com,modules.modules.adxcore.com",
        )  # fmt: skip
        kubectl(
            "create", "clusterrolebinding", "syncer", "--clusterrole=catalog-reader",
            "--serviceaccount=default:syncer",
        )  # fmt: skip
        token = kubectl("create", "token", "syncer", "-n", "default").stdout.strip()
        url = f"http://127.0.0.1:{env['ADX_SERVER_PORT']}"
        api = ServiceProcess(
            "api", env, tmp_path_factory.mktemp("remote-api") / "api.log", f"{url}/health"
        )
        api.start()
        try:
            yield Remote(kubectl, api, url, token)
        finally:
            api.stop()


async def rounds(env: dict[str, str]) -> list[dict[str, Any]]:
    async with await Store.connect(
        env["ADX_DATABASE_URL"], schema=env["ADX_DATABASE_SCHEMA_NAME"]
    ) as store:
        rows = await store.pool.fetch("SELECT * FROM market_sync ORDER BY id")
    return [dict(row) for row in rows]


async def test_a_remote_is_synced_in_local_objects_are_kept_and_a_failure_is_recorded(
    remote: Remote,
    kubectl: Kubectl,
    service_env: dict[str, str],
    unique: str,
    tmp_path: Path,
) -> None:
    offered, clash = f"remote-{unique}", f"clash-{unique}"
    remote.kubectl.apply(module_doc(offered, "1.0.0"), listing_doc(offered, "From afar."))
    remote.kubectl.apply(module_doc(clash, "1.0.0"), listing_doc(clash, "The remote's."))
    kubectl.apply(listing_doc(clash, "Ours, made here."))
    suffix = uuid.uuid4().hex[:8]
    env = {
        **service_env,
        "ADX_TEMPORAL_TASK_QUEUE": f"sync-{suffix}",
        "ADX_DATABASE_SCHEMA_NAME": f"sync_{suffix}",
        "ADX_MARKETPLACE_BASE_URL": remote.url,
        "ADX_MARKETPLACE_API_KEY": remote.token,
        "ADX_MARKETPLACE_SYNC_INTERVAL_SECONDS": "5",
    }
    worker = ServiceProcess("worker", env, tmp_path / "worker.log")
    worker.start()
    try:
        kubectl.wait_for(
            lambda: kubectl("get", "marketplacelisting", offered, check=False).returncode == 0,
            90,
        )
        listing = kubectl.json("get", "marketplacelisting", offered)
        assert listing["metadata"]["labels"][SYNCED_FROM] == source_label(remote.url)
        assert listing["spec"]["summary"] == "From afar."
        module = kubectl.json("get", "module", f"{offered}-1-0-0")
        assert SYNCED_FROM in module["metadata"]["labels"]
        # the local listing of the same name is never overwritten
        ours = kubectl.json("get", "marketplacelisting", clash)
        assert ours["spec"]["summary"] == "Ours, made here."
        assert SYNCED_FROM not in (ours["metadata"].get("labels") or {})
        recorded = await rounds(env)
        assert recorded
        assert f"MarketplaceListing/{clash}" in recorded[0]["kept_local"]
        assert recorded[0]["error"] == ""

        # a change at the remote is followed
        remote.kubectl.apply(listing_doc(offered, "From afar, changed."))
        kubectl.wait_for(
            lambda: (
                kubectl.json("get", "marketplacelisting", offered)["spec"]["summary"]
                == "From afar, changed."
            ),
            60,
        )

        # the remote fails: the round is recorded with why; nothing synced is removed
        remote.api.kill()
        for _ in range(120):
            failed = [r for r in await rounds(env) if r["error"]]
            if failed:
                break
            await asyncio.sleep(1)
        assert failed, "no failed round was recorded"
        assert "did not answer" in failed[-1]["error"]
        assert kubectl.json("get", "marketplacelisting", offered)["spec"]["summary"] == (
            "From afar, changed."
        )
        assert kubectl.json("get", "module", f"{offered}-1-0-0")
    finally:
        worker.stop()
        remote.api.start()
        for kind, name in (
            ("marketplacelisting", offered),
            ("marketplacelisting", clash),
            ("module", f"{offered}-1-0-0"),
        ):
            kubectl("delete", kind, name, "--wait=false", "--ignore-not-found", check=False)
