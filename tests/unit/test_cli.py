"""The console entry points: clear messages, meaningful exit codes."""

from __future__ import annotations

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


def test_author_cli_commands_not_built_yet_say_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert author_main(["publish"]) == NOT_BUILT
    assert "publish" in capsys.readouterr().err
