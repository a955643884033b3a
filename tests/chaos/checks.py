"""What must hold after the chaos: nothing lost, doubled, orphaned or stuck, and every record in
agreement.

Why it exists: the chaos run is only as good as what it checks at the end. Each invariant is a
function that returns the list of violations it found (empty: it holds), so the report can say
how many objects each one looked at and name every one that broke it.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import stripe
from temporalio.client import Client

from adx_modules.marketplace.payments.stripe import METADATA_KEY
from support.database import query


@dataclass
class Expected:
    """What the load asked for: installations that must run (name -> version and isolation), and
    those that were deleted."""

    live: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    deleted: set[tuple[str, str]] = field(default_factory=set)
    purchases: dict[str, str] = field(default_factory=dict)
    """purchase id -> tenant."""


@dataclass
class Finding:
    invariant: str
    checked: int
    violations: list[str]


def kubectl_json(kubeconfig: str, *args: str) -> Any:
    result = subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, *args, "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def installations(kubeconfig: str) -> dict[tuple[str, str], dict[str, Any]]:
    items = kubectl_json(kubeconfig, "get", "moduleinstallations", "-A")["items"]
    return {(i["metadata"]["namespace"], i["metadata"]["name"]): i for i in items}


def settled(mi: dict[str, Any], version: str) -> bool:
    """The installation runs ``version``, and the workflow of its last generation ended."""
    status = mi.get("status") or {}
    return (
        status.get("phase") == "Active"
        and status.get("installedVersion") == version
        and status.get("observedGeneration") == mi["metadata"]["generation"]
        and not status.get("workflow")
    )


def _where(mi: dict[str, Any] | None) -> str:
    if mi is None:
        return "missing"
    status = mi.get("status") or {}
    return (
        f"{status.get('phase')} {status.get('installedVersion')} ({status.get('message', '')[:80]})"
    )


def nothing_lost_or_stuck(
    expected: Expected, found: dict[tuple[str, str], dict[str, Any]]
) -> list[Finding]:
    lost = [
        f"{ns}/{name}: {_where(found.get((ns, name)))}, wanted Active {version}"
        for (ns, name), (version, _) in expected.live.items()
        if not settled(found.get((ns, name)) or {"metadata": {}}, version)
    ]
    stuck = [
        f"{ns}/{name} still exists (finalizers {found[ns, name]['metadata'].get('finalizers')})"
        for ns, name in expected.deleted
        if (ns, name) in found
    ]
    return [
        Finding(
            "every installation Active at its version, its workflow ended", len(expected.live), lost
        ),
        Finding(
            "every deleted installation gone (no stuck finalizer)", len(expected.deleted), stuck
        ),
    ]


def objects_once(kubeconfig: str, expected: Expected) -> list[Finding]:
    """Each live container installation owns exactly one of each object; nothing labelled for an
    installation that does not live remains."""
    label = "modules.adxcore.com/installation"
    containers = {key for key, (_, isolation) in expected.live.items() if isolation == "container"}
    violations: list[str] = []
    checked = 0
    for kind in ("deployments", "configmaps", "networkpolicies", "pods"):
        items = kubectl_json(kubeconfig, "get", kind, "-A", "-l", label)["items"]
        owners = Counter(
            (i["metadata"]["namespace"], i["metadata"]["labels"][label]) for i in items
        )
        checked += len(items)
        violations += [f"{kind} of {k[0]}/{k[1]}: {n}" for k, n in owners.items() if n != 1]
        violations += [f"{kind} of {k[0]}/{k[1]}: none" for k in containers if k not in owners]
        violations += [
            f"orphaned {kind} of {k[0]}/{k[1]}" for k in owners if k not in expected.live
        ]
    return [Finding("container objects: one each, none orphaned", checked, violations)]


def hosted_once(admin_url: str, token: str, expected: Expected, isolation: str) -> Finding:
    """The host (WASM host or runner) serves exactly the live installations of its isolation."""
    listing = httpx.get(
        f"{admin_url}/admin/v1/installations",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    hosted = Counter((h["namespace"], h["name"]) for h in listing)
    wanted = {key for key, (_, iso) in expected.live.items() if iso == isolation}
    violations = [f"{k[0]}/{k[1]} hosted {n} times" for k, n in hosted.items() if n != 1]
    violations += [f"{k[0]}/{k[1]} not hosted" for k in wanted - set(hosted)]
    violations += [f"{k[0]}/{k[1]} hosted but not installed" for k in set(hosted) - wanted]
    return Finding(
        f"{isolation} host: each live installation once, nothing else", len(hosted), violations
    )


async def records_agree(
    env: dict[str, str], expected: Expected, found: dict[tuple[str, str], dict[str, Any]]
) -> Finding:
    """PostgreSQL's installations table says what each CR's status says."""
    rows = await query(
        env, "SELECT uid::text AS uid, namespace, name, phase, version FROM installations"
    )
    by_uid = {row["uid"]: row for row in rows}
    violations: list[str] = []
    for key in expected.live:
        mi = found.get(key)
        if mi is None:
            continue  # reported as lost
        row = by_uid.get(mi["metadata"]["uid"])
        status = mi.get("status") or {}
        if row is None:
            violations.append(f"{key[0]}/{key[1]}: no row")
        elif (row["phase"], row["version"]) != (
            status.get("phase"),
            status.get("installedVersion"),
        ):
            violations.append(
                f"{key[0]}/{key[1]}: row {row['phase']} {row['version']}, "
                f"status {status.get('phase')} {status.get('installedVersion')}"
            )
    deleted = [
        f"{row['namespace']}/{row['name']}: {row['phase']}"
        for row in rows
        if (row["namespace"], row["name"]) in expected.deleted and row["phase"] != "Uninstalled"
    ]
    return Finding("PostgreSQL agrees with every CR's status", len(rows), violations + deleted)


async def one_workflow_per_generation(
    client: Client, found: dict[tuple[str, str], dict[str, Any]], deleted_uids: dict[str, str]
) -> Finding:
    """No generation of any installation ran more than one workflow, and the latest ran one;
    each deleted installation that an install workflow had touched ran one uninstall. One
    deleted before the operator got to it (no finalizer yet: it went at once) needs none: it
    runs at most one (its finalizer was added, nothing was installed), and nothing of it is
    left (``objects_once`` checks that)."""
    runs: Counter[str] = Counter()
    async for execution in client.list_workflows(
        "WorkflowType != 'WatchVulnerabilityDatabaseWorkflow'"
    ):
        runs[execution.id] += 1
    violations = [f"{wid}: {n} runs" for wid, n in runs.items() if wid.startswith("mi/") and n > 1]
    checked = 0
    for (ns, name), mi in found.items():
        uid, generation = mi["metadata"]["uid"], mi["metadata"]["generation"]
        latest = f"mi/{ns}/{name}/{uid}/g{generation}"
        checked += 1
        if runs[latest] != 1:
            violations.append(f"{latest}: {runs[latest]} runs")
    untouched = 0
    for key, uid in deleted_uids.items():
        prefix = f"mi/{key}/{uid}/"
        installed = sum(n for wid, n in runs.items() if wid.startswith(prefix + "g"))
        uninstall = prefix + "uninstall"
        checked += 1
        untouched += not installed and not runs[uninstall]
        if runs[uninstall] > 1 or (installed and runs[uninstall] != 1):
            violations.append(f"{uninstall}: {runs[uninstall]} runs, {installed} before it")
    return Finding(
        "one workflow per generation; one uninstall per deleted installation a workflow had "
        f"touched ({untouched} deleted before the operator got to them: none)",
        checked,
        violations,
    )


async def purchases_once(env: dict[str, str], expected: Expected) -> Finding:
    """Every purchase charged once at the payment provider, paid, and granted."""
    stripe_client = stripe.StripeClient(
        env["ADX_MARKETPLACE_STRIPE_API_KEY"],
        base_addresses={"api": env["ADX_MARKETPLACE_STRIPE_API_BASE"]},
    )
    intents = stripe_client.v1.payment_intents.list(params={"limit": 100})
    charged = Counter(i.to_dict()["metadata"].get(METADATA_KEY) for i in intents.auto_paging_iter())
    violations: list[str] = []
    for purchase, tenant in expected.purchases.items():
        rows = await query(
            env,
            "SELECT p.state, e.purchase_id IS NOT NULL AS granted FROM market_purchases p "
            "LEFT JOIN market_entitlements e ON e.purchase_id = p.id WHERE p.id = $1",
            purchase,
        )
        if rows != [{"state": "paid", "granted": True}] or charged[purchase] != 1:
            violations.append(f"{tenant} {purchase}: {rows}, {charged[purchase]} payment intents")
    return Finding(
        "every purchase charged once, paid and granted", len(expected.purchases), violations
    )
