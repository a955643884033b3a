"""Registry credentials are found where a pod has them: ``$DOCKER_CONFIG/config.json`` (the
chart mounts the ``registry.credentialsSecret`` there), as ``docker`` and Trivy find them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import oras.provider
import pytest

from adx_modules.clients.oci import load_credentials


def test_docker_config_is_where_a_mounted_secret_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = base64.b64encode(b"robot:s3cret").decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"registry.example.com": {"auth": token}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "nobody"))  # nothing in the default place
    client = oras.provider.Registry(hostname="registry.example.com")
    load_credentials(client, client.get_container("registry.example.com/team/module:1.0.0"))
    assert client.auth._basic_auth == token
