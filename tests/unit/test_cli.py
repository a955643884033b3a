"""The console entry points: clear messages, meaningful exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from adx_modules.service.cli import NOT_BUILT, author_main, service_main


def test_a_bad_setting_stops_the_service_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ADX_SERVER_METRICS_PORT", "not-a-port")
    assert service_main(["api"]) == 2
    assert "ADX_SERVER_METRICS_PORT (server.metrics_port)" in capsys.readouterr().err


def test_roles_not_built_yet_say_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert service_main(["api"]) == NOT_BUILT
    assert "not available in this version yet" in capsys.readouterr().err


def test_unknown_role_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as caught:
        service_main(["frobnicate"])
    assert caught.value.code == 2


def test_author_cli_refuses_what_it_cannot_do(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exited:
        author_main(["sign"])
    assert exited.value.code == 2
    assert "invalid choice: 'sign'" in capsys.readouterr().err
    monkeypatch.delenv("ADX_REGISTRY_ADDRESS", raising=False)
    assert author_main(["publish", str(tmp_path / "m.adx")]) == 2
    assert "no registry (nor ADX_REGISTRY_ADDRESS)" in capsys.readouterr().err
