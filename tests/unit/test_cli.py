"""The console entry points: clear messages, meaningful exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from adx_modules.service.cli import author_main, service_main


def test_a_bad_setting_stops_the_service_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ADX_SERVER_METRICS_PORT", "not-a-port")
    assert service_main(["api"]) == 2
    assert "ADX_SERVER_METRICS_PORT (server.metrics_port)" in capsys.readouterr().err


def test_every_role_checks_its_settings_and_stops_when_asked() -> None:
    for role in ("operator", "worker", "api", "wasm-host", "runner"):
        assert service_main([role, "--check"]) == 0, role


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
