"""The example modules under ``examples/`` are what their README says: each validates without
advice, passes its own tests the way its author runs them, and packages with the extension
points its code declares (the e2e tests install and call them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import adx_module_sdk
from adx_modules.authoring.errors import OK
from adx_modules.service.cli import author_main

EXAMPLES = Path(__file__).parents[2] / "examples"
POINTS = {
    "python/orders": {
        "api": [
            {"path": "/orders", "methods": ["POST"]},
            {"path": "/orders/fulfil", "methods": ["POST"]},
            {"path": "/orders/fulfilment", "methods": ["GET"]},
            {"path": "/orders/get", "methods": ["GET"]},
        ],
        "workflows": ["fulfil"],
        "workflowDefinitions": [
            {
                "name": "fulfil",
                "timeoutSeconds": 30,
                "maxAttempts": 3,
                "inputSchema": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "string", "minLength": 1}},
                },
                "outputSchema": {
                    "type": "object",
                    "required": ["order", "total", "currency"],
                },
            }
        ],
    },
    "javascript/invoicer": {"api": [{"path": "/invoices", "methods": ["GET"]}]},
}


def _own_tests(directory: Path) -> list[str]:
    if (directory / "src" / "module.py").exists():
        return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    node = shutil.which("node")
    assert node, "node is needed for the JavaScript example"
    register = Path(adx_module_sdk.__file__).parent / "js" / "register.mjs"
    return [node, "--import", str(register), "--test", "tests/"]


@pytest.mark.parametrize("example", sorted(POINTS))
def test_an_example_validates_passes_its_tests_and_packages_what_its_code_serves(
    example: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / example.replace("/", "-")
    shutil.copytree(EXAMPLES / example, directory)
    manifest = directory / "manifest.json"
    assert author_main(["validate", "--manifest", str(manifest), "--strict"]) == OK
    assert "is valid" in capsys.readouterr().out
    done = subprocess.run(
        _own_tests(directory),
        cwd=directory,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    output = tmp_path / "example.adx"
    assert author_main(["package", "--manifest", str(manifest), "--output", str(output)]) == OK
    with tarfile.open(output) as archive:
        packaged = archive.extractfile("manifest.json")
        assert packaged is not None
        assert json.loads(packaged.read())["extensionPoints"] == POINTS[example]
