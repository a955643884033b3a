"""The author's commands: init scaffolds a module that validates without advice and packages;
validate names the file and field of what is wrong; package is byte-for-byte reproducible,
carries what it says (manifest, code, SBOM, checksums) and nothing it should not."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import adx_module_sdk
from adx_modules.api.module import ExtensionPoints
from adx_modules.authoring.errors import BAD_INPUT, OK
from adx_modules.service.cli import author_main


def cli(*argv: str) -> int:
    return author_main(list(argv))


@pytest.fixture
def module(tmp_path: Path) -> Path:
    directory = tmp_path / "greeter"
    assert cli("init", "greeter", "--dir", str(directory)) == OK
    return directory


def package(manifest: Path, output: Path) -> int:
    return cli("package", "--manifest", str(manifest), "--output", str(output))


def entries(package: Path) -> dict[str, bytes]:
    with tarfile.open(package) as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
        }


def test_a_scaffold_validates_without_advice_and_packages(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = module / "manifest.json"
    assert cli("validate", "--manifest", str(manifest), "--strict") == OK
    assert "greeter 0.1.0 is valid" in capsys.readouterr().out
    assert cli("package", "--manifest", str(manifest), "--output", str(module / "g.adx")) == OK
    assert set(entries(module / "g.adx")) == {
        "manifest.json",
        "code/requirements.lock",
        "code/src/module.py",
        "code/tests/conftest.py",
        "code/tests/test_module.py",
        "sbom.cdx.json",
        "SHA256SUMS",
    }


def test_the_packaged_manifest_declares_what_the_code_serves(module: Path) -> None:
    assert package(module / "manifest.json", module / "g.adx") == OK
    manifest = json.loads(entries(module / "g.adx")["manifest.json"])
    assert manifest["extensionPoints"] == {"api": [{"path": "/greet", "methods": ["GET", "POST"]}]}
    # the author's manifest is left as written
    assert "extensionPoints" not in json.loads((module / "manifest.json").read_text())


def test_what_the_code_prints_on_import_is_not_taken_for_its_extension_points(
    module: Path,
) -> None:
    code = module / "src" / "module.py"
    code.write_text('print("hello from import")\n' + code.read_text())
    assert package(module / "manifest.json", module / "g.adx") == OK
    manifest = json.loads(entries(module / "g.adx")["manifest.json"])
    assert manifest["extensionPoints"] == {"api": [{"path": "/greet", "methods": ["GET", "POST"]}]}


def test_code_that_cannot_be_read_is_refused_with_its_error(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (module / "src" / "module.py").write_text("import nothing_of_the_kind\n")
    assert package(module / "manifest.json", module / "g.adx") == BAD_INPUT
    assert "No module named 'nothing_of_the_kind'" in capsys.readouterr().err


def test_the_scaffold_passes_its_own_test(module: Path) -> None:
    """As its author runs it: ``python -m pytest tests`` in the module's directory."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=module,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_a_javascript_scaffold_passes_its_own_test_and_declares_its_route(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "hello-js"
    assert cli("init", "hello-js", "--runtime", "javascript", "--dir", str(directory)) == OK
    register = Path(adx_module_sdk.__file__).parent / "js" / "register.mjs"
    done = subprocess.run(
        ["node", "--import", str(register), "--test", "tests/"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# pass 1" in done.stdout
    assert package(directory / "manifest.json", directory / "h.adx") == OK
    manifest = json.loads(entries(directory / "h.adx")["manifest.json"])
    assert manifest["extensionPoints"] == {"api": [{"path": "/greet", "methods": ["GET", "POST"]}]}


JS_SHOP = """import { Module } from "adx-module-sdk";
export default class Shop extends Module {
  static routes = { "/orders": { methods: ["post", "GET"], handler: "orders" } };
  static workflows = {
    refund: { handler: "refund", maxAttempts: 2, inputSchema: { type: "object" } },
  };
  static ui = [{ slot: "main-menu", entry: "pages/orders.js", name: "orders", type: "page",
                 permissions: ["storage:read:orders"] }];
  static tables = ["orders"];
  async orders() { return []; }
  async refund() { return 0; }
}
"""


def test_a_javascript_module_declares_workflows_with_their_policy_and_ui_with_its_fields(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "shop-js"
    assert cli("init", "shop-js", "--runtime", "javascript", "--dir", str(directory)) == OK
    (directory / "src" / "module.js").write_text(JS_SHOP)
    assert package(directory / "manifest.json", directory / "s.adx") == OK
    points = json.loads(entries(directory / "s.adx")["manifest.json"])["extensionPoints"]
    assert points == {
        "api": [{"path": "/orders", "methods": ["GET", "POST"]}],
        "workflows": ["refund"],
        "workflowDefinitions": [
            {
                "name": "refund",
                "timeoutSeconds": 300,
                "maxAttempts": 2,
                "inputSchema": {"type": "object"},
            }
        ],
        "ui": [
            {
                "slot": "main-menu",
                "entry": "pages/orders.js",
                "name": "orders",
                "type": "page",
                "permissions": ["storage:read:orders"],
            }
        ],
        "database": ["orders"],
    }
    ExtensionPoints.model_validate(points)


def test_migrations_are_packaged_in_version_order_with_their_digests(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (module / "migrations").mkdir()
    (module / "migrations" / "002_index.sql").write_text("CREATE INDEX i ON t (x);")
    (module / "migrations" / "001_table.sql").write_text("CREATE TABLE t (x int);")
    assert package(module / "manifest.json", module / "g.adx") == OK
    packaged = entries(module / "g.adx")
    points = json.loads(packaged["manifest.json"])["extensionPoints"]
    assert points["migrations"] == [
        {
            "version": version,
            "name": name,
            "sha256": hashlib.sha256(packaged[f"code/migrations/{name}"]).hexdigest(),
        }
        for version, name in ((1, "001_table.sql"), (2, "002_index.sql"))
    ]
    (module / "migrations" / "3-more.sql").write_text("SELECT 1;")
    assert package(module / "manifest.json", module / "h.adx") == BAD_INPUT
    assert "3-more.sql: a migration is a file named NNN_name.sql" in capsys.readouterr().err


def test_init_never_overwrites(module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("init", "greeter", "--dir", str(module)) == BAD_INPUT
    assert "would overwrite manifest.json" in capsys.readouterr().err


def test_the_same_inputs_give_the_same_bytes(module: Path, tmp_path: Path) -> None:
    first = tmp_path / "first.adx"
    assert cli("package", "--manifest", str(module / "manifest.json"), "--output", str(first)) == OK
    # another checkout: another path, other timestamps, another umask's modes
    copy = tmp_path / "elsewhere" / "greeter"
    shutil.copytree(module, copy)
    for path in copy.rglob("*"):
        os.utime(path, (1_900_000_000, 1_900_000_000))
        if path.is_file():
            path.chmod(0o600)
    second = tmp_path / "second.adx"
    assert cli("package", "--manifest", str(copy / "manifest.json"), "--output", str(second)) == OK
    assert first.read_bytes() == second.read_bytes()
    # and a change of one byte of code changes the digest
    (copy / "src" / "module.py").write_text("# changed\n")
    third = tmp_path / "third.adx"
    assert cli("package", "--manifest", str(copy / "manifest.json"), "--output", str(third)) == OK
    assert (
        hashlib.sha256(third.read_bytes()).digest() != hashlib.sha256(first.read_bytes()).digest()
    )


def test_the_package_carries_checksums_an_sbom_and_normalized_entries(
    module: Path, tmp_path: Path
) -> None:
    (module / "requirements.lock").write_text("requests==2.31.0\nPyYAML==6.0.1 \\\n  --hash=x\n")
    (module / "run.sh").write_text("#!/bin/sh\n")
    (module / "run.sh").chmod(0o755)
    output = tmp_path / "g.adx"
    assert (
        cli("package", "--manifest", str(module / "manifest.json"), "--output", str(output)) == OK
    )
    content = entries(output)
    sums = dict(
        reversed(line.split("  ", 1)) for line in content["SHA256SUMS"].decode().splitlines()
    )
    assert set(sums) == set(content) - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256(content[name]).hexdigest() == digest
    bom = json.loads(content["sbom.cdx.json"])
    assert bom["bomFormat"] == "CycloneDX"
    assert [c["purl"] for c in bom["components"]] == [
        "pkg:pypi/pyyaml@6.0.1",
        "pkg:pypi/requests@2.31.0",
    ]
    with tarfile.open(output) as archive:
        members = archive.getmembers()
    assert [m.name for m in members[:-1]] == sorted(m.name for m in members[:-1])
    assert {(m.uid, m.gid, m.mtime) for m in members} == {(0, 0, 315532800)}
    assert {m.name: m.mode for m in members}["code/run.sh"] == 0o755
    assert {m.mode for m in members if m.name != "code/run.sh"} == {0o644}
    header = gzip.GzipFile(fileobj=io.BytesIO(output.read_bytes()))
    header.read()
    assert header.mtime == 0


def test_what_a_package_leaves_out(module: Path, tmp_path: Path) -> None:
    for junk in (
        ".git/config",
        "src/__pycache__/m.pyc",
        "node_modules/x/i.js",
        "old.adx",
        "secrets/token.txt",
        ".env",
    ):
        (module / junk).parent.mkdir(parents=True, exist_ok=True)
        (module / junk).write_text("junk")
    (module / ".adxignore").write_text("# local only\nsecrets/*\n")
    output = tmp_path / "g.adx"
    assert (
        cli("package", "--manifest", str(module / "manifest.json"), "--output", str(output)) == OK
    )
    names = set(entries(output))
    assert not {n for n in names if "junk" in n or ".git" in n or "secrets" in n or ".adx" in n}
    assert "code/src/module.py" in names


def test_a_symlink_is_refused_naming_it(
    module: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (module / "src" / "passwd").symlink_to("/etc/passwd")
    output = tmp_path / "g.adx"
    assert cli("package", "--manifest", str(module / "manifest.json"), "--output", str(output)) == (
        BAD_INPUT
    )
    assert "src/passwd: a symlink" in capsys.readouterr().err
    assert not output.exists()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"version": "1.0"}, "manifest.version"),
        ({"permissions": ["database:drop:users"]}, "manifest.permissions[0]"),
        ({"runtime": "cobol"}, "manifest.runtime"),
        ({"configSchema": {"type": "nonsense"}}, "manifest.configSchema.type"),
        ({"unknownField": 1}, "manifest.unknownField"),
    ],
)
def test_validate_names_the_field(
    module: Path, capsys: pytest.CaptureFixture[str], change: dict[str, object], expected: str
) -> None:
    manifest = module / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), **change}))
    assert cli("validate", "--manifest", str(manifest)) == BAD_INPUT
    error = capsys.readouterr().err
    assert str(manifest) in error
    assert expected in error
    assert cli("package", "--manifest", str(manifest)) == BAD_INPUT  # and nothing is built


def test_validate_refuses_what_is_not_a_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "manifest.json"
    broken.write_text("{not json")
    assert cli("validate", "--manifest", str(broken)) == BAD_INPUT
    assert "not valid JSON" in capsys.readouterr().err
    assert cli("validate", "--manifest", str(tmp_path / "missing.json")) == BAD_INPUT
    assert "cannot be read" in capsys.readouterr().err


def test_lint_advice_and_strict(module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = module / "manifest.json"
    document = json.loads(manifest.read_text())
    document["permissions"] = [
        "network:access:*",
        "database:admin:orders",
        "file:write:/etc/cron.d",
        "event:publish:orders.*",
    ]
    del document["resources"]
    manifest.write_text(json.dumps(document))
    assert cli("validate", "--manifest", str(manifest)) == OK
    advice = capsys.readouterr().err
    assert "permissions[0]: 'network:access:*' grants every network target" in advice
    assert "permissions[1]: 'database:admin:orders' asks for admin" in advice
    assert "permissions[2]: 'file:write:/etc/cron.d' reaches a system path" in advice
    assert "permissions[3]: 'event:publish:orders.*' uses a wildcard" in advice
    assert "manifest.resources.limits: not set" in advice
    assert cli("validate", "--manifest", str(manifest), "--strict") == BAD_INPUT
    capsys.readouterr()
    assert cli("validate", "--manifest", str(manifest), "--output", "json") == OK
    assert len(json.loads(capsys.readouterr().out)["lint"]) == 5
