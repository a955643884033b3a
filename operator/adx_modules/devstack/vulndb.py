"""The local stack's vulnerability database: built from advisories kept in the repository and
served from the local registry, the way an air-gapped cluster serves Trivy's database.

Why it exists: scanning for vulnerable dependencies needs Trivy's database, and nothing may be
downloaded from the internet at run time. ``toolchain/trivy-db`` loads the YAML advisories in
``toolchain/trivy-db/advisories/`` (the format of Trivy's own test fixtures: real, public
advisories for a few well-known packages) into Trivy's BoltDB file; this packs it as Trivy's
OCI artifact and pushes it to the local registry, where the worker fetches it like any mirror
(``security.vulnerability_db``). ``UPDATED_AT`` in that folder is the database's version: bump
it with the advisories, and every cached verdict is scanned again.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

from adx_modules.clients import oci
from adx_modules.core.errors import DevStackError
from adx_modules.devstack.toolchain import project_root

REPOSITORY = "aquasecurity/trivy-db"
TAG = "2"  # Trivy's database schema version
LAYER_TYPE = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"
CONFIG_TYPE = "application/vnd.aquasec.trivy.config.v1+json"


def advisories() -> Path:
    return project_root() / "toolchain" / "trivy-db" / "advisories"


def build(bin_dir: Path, target: Path, source: Path | None = None) -> Path:
    """``db.tar.gz`` (``trivy.db`` and ``metadata.json``) from the advisories in ``source``
    (the repository's by default), in ``target``."""
    source = source or advisories()
    updated_at = (source / "UPDATED_AT").read_text().strip()
    database = target / "trivy.db"
    database.unlink(missing_ok=True)
    fixtures = sorted(str(path) for path in source.glob("*.yaml"))
    result = subprocess.run(
        [str(bin_dir / "trivy-db-fixtures"), str(database), *fixtures],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DevStackError(f"building the vulnerability database failed: {result.stderr.strip()}")
    metadata = {
        "Version": int(TAG),
        "NextUpdate": "2999-01-01T00:00:00Z",  # never stale: the stack pushes a new one instead
        "UpdatedAt": updated_at,
        "DownloadedAt": updated_at,
    }
    archive = target / "db.tar.gz"
    with tarfile.open(archive, "w:gz") as out:
        out.add(database, arcname="trivy.db")
        data = json.dumps(metadata).encode()
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        out.addfile(info, io.BytesIO(data))
    return archive


def publish(
    bin_dir: Path, registry: str, *, source: Path | None = None, repository: str = REPOSITORY
) -> str:
    """Build the database and push it to ``registry`` (plain HTTP: the loopback registry);
    the reference the worker pulls it by."""
    with tempfile.TemporaryDirectory(prefix="adx-vulndb-") as scratch:
        archive = build(bin_dir, Path(scratch), source)
        layer = oci.Layer(archive, LAYER_TYPE, b"{}", CONFIG_TYPE)
        oci.push(registry, repository, TAG, layer, insecure=True)
    return f"{registry}/{repository}:{TAG}"
