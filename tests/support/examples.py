"""The example modules of ``examples/`` as the e2e tests publish them: a copy whose module id
carries the test's suffix (Modules are cluster-wide), packaged and published with the author
CLI's own code, its Module applied."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from adx_modules.authoring.errors import OK
from adx_modules.authoring.publish import publish
from adx_modules.service.cli import author_main
from support.kube import Kubectl
from support.objects import API_VERSION
from support.stack import StackInfo

EXAMPLES = Path(__file__).parents[2] / "examples"


def publish_example(
    kubectl: Kubectl, stack: StackInfo, example: str, unique: str, work: Path
) -> tuple[dict[str, Any], Path]:
    """Package and publish ``examples/<example>``, apply its Module; the Module and the copy."""
    directory = work / Path(example).name
    shutil.copytree(EXAMPLES / example, directory)
    manifest = json.loads((directory / "manifest.json").read_text())
    module_id = f"{manifest['moduleId']}-{unique}"
    (directory / "manifest.json").write_text(json.dumps({**manifest, "moduleId": module_id}))
    output = directory / "module.adx"
    packaged = author_main(
        ["package", "--manifest", str(directory / "manifest.json"), "--output", str(output)]
    )
    assert packaged == OK
    published = publish(output, stack.env["ADX_REGISTRY_ADDRESS"], insecure=True)
    kubectl.apply({**published.module, "apiVersion": API_VERSION})
    return published.module, directory
