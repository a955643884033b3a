"""``adx-module-service findings MODULE``: every finding of a Module's last scan, worst first.

Why it exists: a Module's status names its score, its counts and its three worst findings; the
rest are kept in PostgreSQL by digest, and whoever must fix the module (or overrule its
rejection) needs all of them, with what to do about each. This reads the Module's digest and
database version from the cluster and prints that verdict's findings.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, TextIO

from adx_modules.api.module import MODULE
from adx_modules.catalog.scanning.findings import by_severity
from adx_modules.clients.errors import ClientError, NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.core.database import open_store
from adx_modules.core.settings import Settings

NOT_FOUND = 2


def report(name: str, status: dict[str, Any], findings: list[dict[str, Any]]) -> str:
    """The findings as lines: a heading, then ``SEVERITY scanner/rule location: message``."""
    lines = [
        f"Module {name}: {status.get('phase')}, security score {status.get('securityScore')}, "
        f"{len(findings)} findings ({status.get('scannedReference')}, database "
        f"{status.get('databaseVersion')})"
    ]
    for found in by_severity(findings):
        where = f" {found['location']}" if found.get("location") else ""
        lines.append(
            f"{found.get('severity')!s:8} {found.get('scanner')}/{found.get('rule')}{where}: "
            f"{found.get('message')}"
        )
    return "\n".join(lines)


async def show(settings: Settings, name: str, out: TextIO = sys.stdout) -> int:
    """Print the findings of Module ``name``; 0, or 2 when it or its scan is not there."""
    try:
        async with await KubeClient.connect() as kube:
            module = await kube.get_custom(MODULE, name)
    except NotFoundError:
        print(f"findings: there is no Module {name}", file=sys.stderr)
        return NOT_FOUND
    except ClientError as error:
        print(f"findings: {error}", file=sys.stderr)
        return 1
    status = module.get("status") or {}
    digest = status.get("digest")
    if not digest:
        print(f"findings: Module {name} has no scan yet ({status.get('phase')})", file=sys.stderr)
        return NOT_FOUND
    async with await open_store(settings.database) as store:
        record = await store.latest_scan(digest, status.get("databaseVersion"))
    if record is None:
        print(f"findings: no verdict on {digest} is kept in this database", file=sys.stderr)
        return NOT_FOUND
    print(report(name, status, record.findings), file=out)
    return 0


def run(settings: Settings, name: str) -> int:
    return asyncio.run(show(settings, name))
