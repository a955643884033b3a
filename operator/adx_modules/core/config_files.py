"""The service's configuration files: which are read, in which order, and the names the ADX
Module Service's reference gives some settings.

Why it exists: operators arrive with the reference's TOML — ``config/default.toml`` with the
site's ``config/local.toml`` over it, ``[temporal] server_url``, ``[database] max_connections``,
``[sandbox] default_isolation_level = "process"``, ``[security] enable_security_scanning`` — and
it must load and mean what it says. This service's own names stay (they are what the docs, the
chart and ``ADX_*`` use); the reference's are accepted as aliases of them, converted where the
reference writes a value differently (a URL for an address), and when a file sets both, the
service's own name wins and a note says so.

Which files: the one named by ``--config FILE`` (or ``ADX_CONFIG_FILE``); else, in the
directory ``ADX_CONFIG_DIR`` (default ``./config``), ``default.toml`` then ``local.toml``, each
optional, the later winning setting by setting.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from adx_modules.core.errors import SettingsError

CONFIG_FILE_ENV = "ADX_CONFIG_FILE"
CONFIG_DIR_ENV = "ADX_CONFIG_DIR"
LAYERS = ("default.toml", "local.toml")
TEMPORAL_PORT = 7233
log = logging.getLogger("adx_modules.settings")


def _address(value: Any) -> Any:
    """``http://temporal:7233`` (the reference's URL) -> ``temporal:7233``."""
    if not isinstance(value, str) or "://" not in value:
        return value
    parts = urlsplit(value)
    if not parts.hostname:
        return value
    return f"{parts.hostname}:{parts.port or TEMPORAL_PORT}"


def _lowercase(value: Any) -> Any:
    """``Process`` (the reference's enum spelling) -> ``process``."""
    return value.lower() if isinstance(value, str) else value


@dataclass(frozen=True)
class Alias:
    """The reference's ``[section] name`` for this service's ``[section] field``."""

    section: str
    name: str
    field: str
    convert: Callable[[Any], Any] = lambda value: value


ALIASES = (
    Alias("temporal", "server_url", "address", _address),
    Alias("database", "max_connections", "pool_size"),
    Alias("sandbox", "default_isolation_level", "default_isolation", _lowercase),
    Alias("security", "enable_security_scanning", "scanning_enabled"),
)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise SettingsError(f"settings file {path}: cannot be read ({error.strerror})") from error
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"settings file {path}: not valid TOML ({error})") from error


def _copy(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` with each section copied, so changing the copy leaves ``raw`` alone."""
    return {key: dict(value) if isinstance(value, dict) else value for key, value in raw.items()}


def with_own_names(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``raw`` with every alias renamed to the service's own name (and converted)."""
    renamed = _copy(raw)
    for alias in ALIASES:
        section = renamed.get(alias.section)
        if not isinstance(section, dict) or alias.name not in section:
            continue
        value = alias.convert(section.pop(alias.name))
        own = f"{alias.section}.{alias.field}"
        if alias.field in section:
            log.warning(
                "%s sets both %s.%s and %s: %s wins", source, alias.section, alias.name, own, own
            )
            continue
        section[alias.field] = value
    return renamed


def merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``, setting by setting within each section."""
    merged = _copy(base)
    for section, fields in override.items():
        target = merged.setdefault(section, {})
        if isinstance(target, dict) and isinstance(fields, Mapping):
            target.update(fields)
        else:
            merged[section] = fields
    return merged


def files(config_file: Path | None, environ: Mapping[str, str]) -> list[Path]:
    """The files that apply, in order (later wins)."""
    if config_file is None and environ.get(CONFIG_FILE_ENV):
        config_file = Path(environ[CONFIG_FILE_ENV])
    if config_file is not None:
        return [config_file]
    directory = Path(environ.get(CONFIG_DIR_ENV) or "config")
    return [directory / name for name in LAYERS if (directory / name).is_file()]


def read_files(config_file: Path | None, environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings the files say, under the service's own names."""
    found: dict[str, Any] = {}
    for path in files(config_file, environ):
        found = merge(found, with_own_names(read_toml(path), str(path)))
    return found
