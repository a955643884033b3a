"""``adx-module-cli init``: a new module's directory, valid and packageable from the first minute.

Why it exists: the quickest way to learn a format is a working example of it. The scaffold is a
manifest that ``validate`` accepts without advice (narrow permissions, limits set), the module's
code, a test for it, and an empty lockfile, so ``package`` works at once.
"""

from __future__ import annotations

import json
from pathlib import Path

from adx_modules.authoring.errors import InputError
from adx_modules.authoring.manifest import MANIFEST

PYTHON_CODE = '''"""{module_id}: answers a request with a greeting from its configuration."""

from adx_module_sdk import Module, Request, route


class Greeter(Module):
    async def initialize(self, config: dict) -> None:
        self.greeting = config.get("greeting", "hello")

    @route("/greet", methods=("GET", "POST"))
    async def greet(self, request: Request) -> dict:
        name = (request.json() or {{}}).get("name", "world") if request.body else "world"
        self.sdk.logger.info("greeting", extra={{"fields": {{"name": name}}}})
        return {{"message": f"{{self.greeting}}, {{name}}"}}
'''
PYTHON_TEST = """import asyncio

from adx_module_sdk import Request
from adx_module_sdk.testing import sdk_for_tests
from module import Greeter


def test_greets_by_name() -> None:
    module = Greeter(sdk_for_tests("{module_id}"))
    asyncio.run(module.initialize({{"greeting": "hi"}}))
    request = Request(method="POST", path="/greet", body='{{"name": "Ada"}}')
    assert asyncio.run(module.greet(request)) == {{"message": "hi, Ada"}}
"""
PYTHON_CONFTEST = """\"\"\"Lets `python -m pytest tests` import src/module.py, from anywhere.\"\"\"

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
"""
JAVASCRIPT_CODE = """// {module_id}: answers a request with a greeting from its configuration.
import {{ Module }} from "adx-module-sdk";

export default class Greeter extends Module {{
  static routes = {{ "/greet": {{ methods: ["GET", "POST"], handler: "greet" }} }};

  async initialize(config) {{
    this.greeting = config.greeting ?? "hello";
  }}

  async greet(request) {{
    const name = (request.body && request.json().name) || "world";
    this.sdk.logger.info("greeting", {{ name }});
    return {{ message: `${{this.greeting}}, ${{name}}` }};
  }}
}}
"""
JAVASCRIPT_TEST = """// node --import <adx_module_sdk>/js/register.mjs --test tests/
import assert from "node:assert/strict";
import test from "node:test";
import {{ Request }} from "adx-module-sdk";
import Greeter from "../src/module.js";

test("greets by name", async () => {{
  const module = new Greeter({{ logger: {{ info() {{}} }} }});
  await module.initialize({{ greeting: "hi" }});
  const request = new Request({{ method: "POST", path: "/greet", body: '{{"name": "Ada"}}' }});
  assert.deepEqual(await module.greet(request), {{ message: "hi, Ada" }});
}});
"""
FILES = {
    "python": {
        "src/module.py": PYTHON_CODE,
        "tests/conftest.py": PYTHON_CONFTEST,
        "tests/test_module.py": PYTHON_TEST,
        "requirements.lock": "# pinned dependencies, one name==version per line\n",
    },
    "javascript": {
        "src/module.js": JAVASCRIPT_CODE,
        "tests/module.test.js": JAVASCRIPT_TEST,
        "package-lock.json": '{{"name": "{module_id}", "lockfileVersion": 3, "packages": {{}}}}\n',
    },
}
RUNTIMES = tuple(FILES)


def manifest_for(module_id: str, runtime: str) -> dict[str, object]:
    return {
        "moduleId": module_id,
        "version": "0.1.0",
        "displayName": module_id.replace("-", " ").title(),
        "description": "What this module does, in one or two sentences.",
        "author": "Your Name <you@example.com>",
        "license": "Apache-2.0",
        "runtime": runtime,
        "permissions": [f"storage:read:{module_id}"],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "configSchema": {
            "type": "object",
            "properties": {"greeting": {"type": "string", "default": "hello"}},
            "additionalProperties": False,
        },
    }


def scaffold(directory: Path, module_id: str, runtime: str) -> list[Path]:
    """Write a new module into ``directory``; refuses to overwrite anything."""
    if runtime not in FILES:
        raise InputError(f"--runtime {runtime}: one of {', '.join(RUNTIMES)}")
    contents = {
        MANIFEST: json.dumps(manifest_for(module_id, runtime), indent=2) + "\n",
        **{name: text.format(module_id=module_id) for name, text in FILES[runtime].items()},
    }
    existing = [name for name in contents if (directory / name).exists()]
    if existing:
        raise InputError(f"{directory}: would overwrite {', '.join(existing)}")
    written = []
    for name, text in contents.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
