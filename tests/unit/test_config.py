"""Settings: defaults, TOML, environment, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from adx_modules.core.errors import SettingsError
from adx_modules.core.settings import Settings, env_name, load_settings


def test_defaults_are_the_services_own() -> None:
    settings = load_settings(environ={})
    assert settings.server.health_port == 8080
    assert settings.temporal.namespace == "adx-core"
    assert settings.temporal.task_queue == "module-service"
    assert settings.security.min_security_score == 70
    assert settings.security.scanning_enabled is True
    assert settings.sandbox.default_isolation == "container"


def test_environment_overrides_toml_which_overrides_defaults(tmp_path: Path) -> None:
    config = tmp_path / "adx.toml"
    config.write_text(
        '[temporal]\naddress = "temporal.adx-system:7233"\ntask_queue = "from-file"\n'
        "[database]\npool_size = 3\n"
    )
    settings = load_settings(config, environ={"ADX_TEMPORAL_TASK_QUEUE": "from-env"})
    assert settings.temporal.address == "temporal.adx-system:7233"
    assert settings.temporal.task_queue == "from-env"
    assert settings.database.pool_size == 3


def test_config_file_can_come_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "adx.toml"
    config.write_text("[sandbox]\nmax_sandboxes = 7\n")
    settings = load_settings(environ={"ADX_CONFIG_FILE": str(config)})
    assert settings.sandbox.max_sandboxes == 7


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("ADX_SERVER_METRICS_PORT", "eighty", "ADX_SERVER_METRICS_PORT (server.metrics_port)"),
        ("ADX_SERVER_HEALTH_PORT", "70000", "ADX_SERVER_HEALTH_PORT (server.health_port)"),
        ("ADX_SECURITY_MIN_SECURITY_SCORE", "150", "ADX_SECURITY_MIN_SECURITY_SCORE"),
        ("ADX_SANDBOX_DEFAULT_ISOLATION", "vm", "ADX_SANDBOX_DEFAULT_ISOLATION"),
        ("ADX_DATABASE_URL", "mysql://db", "ADX_DATABASE_URL (database.url)"),
        ("ADX_TEMPORAL_ADDRESS", "no-port", "ADX_TEMPORAL_ADDRESS"),
        ("ADX_SANDBOX_ENABLE_WASM", "perhaps", "ADX_SANDBOX_ENABLE_WASM"),
    ],
)
def test_a_bad_environment_value_names_the_setting(variable: str, value: str, named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={variable: value})
    assert named in str(caught.value)


def test_every_bad_setting_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={"ADX_SERVER_METRICS_PORT": "x", "ADX_DATABASE_POOL_SIZE": "0"})
    message = str(caught.value)
    assert "ADX_SERVER_METRICS_PORT" in message
    assert "ADX_DATABASE_POOL_SIZE" in message


def test_a_bad_toml_value_names_the_dotted_setting(tmp_path: Path) -> None:
    config = tmp_path / "adx.toml"
    config.write_text("[security]\nmin_security_score = -1\n")
    with pytest.raises(SettingsError, match=r"security\.min_security_score"):
        load_settings(config, environ={})


def test_an_unknown_toml_setting_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "adx.toml"
    config.write_text("[temporal]\nadress = 'typo:7233'\n")
    with pytest.raises(SettingsError, match=r"temporal\.adress"):
        load_settings(config, environ={})


def test_unreadable_and_malformed_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot be read"):
        load_settings(tmp_path / "missing.toml", environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\nport = 1")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(broken, environ={})


def test_every_field_has_an_environment_variable() -> None:
    names = {
        env_name(section, field)
        for section, info in Settings.model_fields.items()
        for field in info.annotation.model_fields  # type: ignore[union-attr]
    }
    assert "ADX_TEMPORAL_ADDRESS" in names
    assert "ADX_DATABASE_URL" in names
    assert all(name == name.upper() and name.startswith("ADX_") for name in names)


REFERENCE_TOML = """
[temporal]
server_url = "http://temporal.adx-system:7233"
namespace = "adx-core"

[database]
url = "postgresql://adx:secret@db.adx-system:5432/adx_modules"
max_connections = 20

[sandbox]
default_isolation_level = "process"

[security]
enable_security_scanning = false

[marketplace]
base_url = "https://marketplace.adxcore.com"
api_key = "remote-token"
enable_analytics = false
"""


def test_the_reference_toml_loads_and_means_what_it_says(tmp_path: Path) -> None:
    config = tmp_path / "service.toml"
    config.write_text(REFERENCE_TOML)
    settings = load_settings(config, environ={})
    assert settings.temporal.address == "temporal.adx-system:7233"
    assert settings.database.pool_size == 20
    assert settings.database.url == "postgresql://adx:secret@db.adx-system:5432/adx_modules"
    assert settings.sandbox.default_isolation == "process"
    assert settings.security.scanning_enabled is False
    assert settings.marketplace.base_url == "https://marketplace.adxcore.com"
    assert settings.marketplace.api_key == "remote-token"
    assert settings.marketplace.enable_analytics is False


def test_the_services_own_name_wins_over_the_references_with_a_note(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "service.toml"
    config.write_text(
        "[database]\nmax_connections = 20\npool_size = 5\n"
        '[sandbox]\ndefault_isolation_level = "Wasm"\n'
    )
    with caplog.at_level("WARNING", logger="adx_modules.settings"):
        settings = load_settings(config, environ={})
    assert settings.database.pool_size == 5
    assert settings.sandbox.default_isolation == "wasm"  # the reference's enum spelling
    assert "sets both database.max_connections and database.pool_size" in caplog.text


def test_a_bad_value_under_the_references_name_is_named(tmp_path: Path) -> None:
    config = tmp_path / "service.toml"
    config.write_text('[sandbox]\ndefault_isolation_level = "vm"\n')
    with pytest.raises(SettingsError, match=r"sandbox\.default_isolation"):
        load_settings(config, environ={})


def test_local_toml_over_default_toml_then_the_environment(tmp_path: Path) -> None:
    (tmp_path / "default.toml").write_text(
        '[temporal]\nserver_url = "http://temporal:7233"\ntask_queue = "from-default"\n'
        "[database]\nmax_connections = 8\n"
    )
    (tmp_path / "local.toml").write_text('[temporal]\ntask_queue = "from-local"\n')
    environ = {"ADX_CONFIG_DIR": str(tmp_path)}
    settings = load_settings(environ=environ)
    assert settings.temporal.address == "temporal:7233"  # default.toml's, not overridden
    assert settings.temporal.task_queue == "from-local"
    assert settings.database.pool_size == 8
    settings = load_settings(environ={**environ, "ADX_DATABASE_POOL_SIZE": "3"})
    assert settings.database.pool_size == 3
    named = tmp_path / "only.toml"
    named.write_text('[temporal]\ntask_queue = "named"\n')
    settings = load_settings(named, environ=environ)  # a named file replaces the layers
    assert (settings.temporal.task_queue, settings.database.pool_size) == ("named", 10)


def test_without_a_config_directory_the_defaults_stand(tmp_path: Path) -> None:
    settings = load_settings(environ={"ADX_CONFIG_DIR": str(tmp_path / "absent")})
    assert settings == Settings()
