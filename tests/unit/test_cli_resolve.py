"""``adx-module-cli resolve``: a preview against manifest files, with honest exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from adx_modules.authoring import resolve as resolve_cli
from adx_modules.service.cli import author_main
from support.objects import module_doc as module

SAMPLES = Path(__file__).parents[2] / "manifests" / "samples"


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "modules.yaml").write_text(
        yaml.safe_dump_all(
            [
                module(
                    "analytics", "2.1.0", dependencies=[{"moduleId": "charts", "version": ">=3.0"}]
                ),
                module(
                    "analytics", "2.0.0", dependencies=[{"moduleId": "charts", "version": ">=2.0"}]
                ),
                module("charts", "3.2.0", dependencies=[{"moduleId": "fonts", "version": "^1"}]),
                module("charts", "2.5.0"),
                module("fonts", "1.4.0"),
            ]
        )
    )
    (folder / "not-a-module.yaml").write_text("kind: ConfigMap\napiVersion: v1\n")
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = author_main(["resolve", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_lists_what_to_install_dependencies_first(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--catalog", str(catalog), "analytics", "--output", "json")
    assert code == 0
    assert json.loads(out) == {
        "install": [
            {"module": "fonts", "version": "1.4.0"},
            {"module": "charts", "version": "3.2.0"},
            {"module": "analytics", "version": "2.1.0"},
        ]
    }


def test_installed_modules_are_kept_and_not_listed(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    installed = tmp_path / "installed.yaml"
    installed.write_text("charts: 2.5.0\n")
    code, out, _ = run(
        capsys,
        "--catalog",
        str(catalog),
        "--installed",
        str(installed),
        "analytics",
        "--output",
        "json",
    )
    assert code == 0
    assert json.loads(out) == {"install": [{"module": "analytics", "version": "2.0.0"}]}
    installed.write_text(yaml.safe_dump([{"module": "charts", "version": "2.5.0"}]))
    code, out, _ = run(
        capsys, "--catalog", str(catalog), "--installed", str(installed), "analytics"
    )
    assert code == 0
    assert out.splitlines() == ["keep    charts 2.5.0", "install analytics 2.0.0"]


def test_no_solution_exits_3_with_the_explanation(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    installed = tmp_path / "installed.yaml"
    installed.write_text("charts: 2.5.0\n")
    code, out, _ = run(
        capsys, "--catalog", str(catalog), "--installed", str(installed), "analytics@^2.1"
    )
    assert code == 3
    assert "analytics 2.1.0 requires charts >=3.0" in out
    assert "charts 2.5.0 (installed) is kept" in out


@pytest.mark.parametrize(
    ("request_", "says"),
    [
        ("Analytics", "not a module id"),
        ("analytics@latest", "MODULE@CONSTRAINT 'analytics@latest'"),
    ],
)
def test_a_bad_request_exits_2(
    catalog: Path, capsys: pytest.CaptureFixture[str], request_: str, says: str
) -> None:
    code, _, err = run(capsys, "--catalog", str(catalog), request_)
    assert code == 2
    assert says in err


def test_a_bad_manifest_exits_2_naming_file_and_field(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = catalog / "broken.yaml"
    broken.write_text(yaml.safe_dump(module("charts", "one.two")))
    code, _, err = run(capsys, "--catalog", str(catalog), "charts")
    assert code == 2
    assert f"{broken}: Module charts-one-two: spec.version" in err
    broken.write_text("kind: Module\nspec: [unclosed\n")
    code, _, err = run(capsys, "--catalog", str(catalog), "charts")
    assert code == 2
    assert f"{broken}: not valid YAML" in err


def test_the_samples_resolve(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--catalog", str(SAMPLES), "analytics-dashboard", "--output", "json")
    assert code == 0
    # pdf-export is optional and not published: left out, not an error
    assert json.loads(out) == {
        "install": [
            {"module": "charts", "version": "3.2.0"},
            {"module": "analytics-dashboard", "version": "2.1.0"},
        ]
    }


def test_a_large_catalog_is_parsed_on_every_core_with_the_same_answer_and_errors(
    catalog: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One manifest per file, parsed by a process pool (the threshold lowered so a small
    catalog takes that path): the plan is the one read in this process, and a broken file is
    still named."""
    split = catalog.parent / "split"
    split.mkdir()
    for index, document in enumerate(yaml.safe_load_all((catalog / "modules.yaml").read_text())):
        (split / f"{index:03d}.yaml").write_text(yaml.safe_dump(document))
    serial = run(capsys, "--catalog", str(split), "analytics", "--output", "json")
    monkeypatch.setattr(resolve_cli, "PARALLEL_FROM", 2)
    monkeypatch.setattr(resolve_cli.os, "cpu_count", lambda: 2)
    assert run(capsys, "--catalog", str(split), "analytics", "--output", "json") == serial
    (split / "999.yaml").write_text("spec: {\n")
    code, _, err = run(capsys, "--catalog", str(split), "analytics")
    assert code == 2
    assert "999.yaml: not valid YAML" in err
