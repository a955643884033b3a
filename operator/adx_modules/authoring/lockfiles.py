"""A module's pinned dependencies, read from its lockfile into a CycloneDX SBOM.

Why it exists: the scanner finds vulnerable dependencies from exact versions, and Trivy reads a
CycloneDX SBOM whatever the language. Packaging turns the lockfile an author already keeps
(``requirements.txt``/``requirements.lock`` with ``name==version`` pins, ``poetry.lock``,
``uv.lock``, ``package-lock.json``) into one SBOM inside the package, without a timestamp or a
random serial number, so the package stays reproducible.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from adx_modules.authoring.errors import InputError

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([A-Za-z0-9.+!_-]+)")
Component = tuple[str, str, str]  # (ecosystem, name, version)


def _requirements(path: Path) -> list[Component]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line.strip())
        if match:
            found.append(("pypi", match.group(1).lower().replace("_", "-"), match.group(3)))
    return found


def _toml_packages(path: Path) -> list[Component]:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    return [
        ("pypi", str(item["name"]).lower(), str(item["version"]))
        for item in document.get("package", [])
        if "name" in item and "version" in item
    ]


def _package_lock(path: Path) -> list[Component]:
    document = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for key, item in (document.get("packages") or {}).items():
        if key and isinstance(item, dict) and item.get("version"):
            name = item.get("name") or key.rsplit("node_modules/", 1)[-1]
            found.append(("npm", str(name), str(item["version"])))
    return found


READERS = {
    "requirements.lock": _requirements,
    "requirements.txt": _requirements,
    "poetry.lock": _toml_packages,
    "uv.lock": _toml_packages,
    "package-lock.json": _package_lock,
}


def components(root: Path) -> list[Component] | None:
    """Every pinned dependency of the lockfiles in ``root``; None if it has no lockfile."""
    found: set[Component] = set()
    seen = False
    for name, reader in READERS.items():
        path = root / name
        if path.is_file():
            seen = True
            try:
                found.update(reader(path))
            except (ValueError, KeyError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
                raise InputError(f"{path}: not a readable lockfile ({error})") from None
    return sorted(found) if seen else None


def purl(ecosystem: str, name: str, version: str) -> str:
    if ecosystem == "npm" and name.startswith("@"):
        scope, _, bare = name.partition("/")
        return f"pkg:npm/{scope.replace('@', '%40')}/{bare}@{version}"
    return f"pkg:{ecosystem}/{name}@{version}"


def sbom(root: Path, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The CycloneDX 1.5 SBOM of ``root``'s lockfiles, or None if there is none."""
    pinned = components(root)
    if pinned is None:
        return None
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "component": {
                "type": "application",
                "name": str(manifest.get("moduleId", "")),
                "version": str(manifest.get("version", "")),
            }
        },
        "components": [
            {
                "type": "library",
                "name": name,
                "version": version,
                "purl": purl(ecosystem, name, version),
                "bom-ref": purl(ecosystem, name, version),
            }
            for ecosystem, name, version in pinned
        ],
    }
