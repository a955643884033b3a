"""Reading Kubernetes credentials: every kubeconfig form the service supports, relative paths,
rotated token files, and a clear refusal (file and field named) for what it does not support."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from adx_modules.clients import kubeconfig
from adx_modules.clients.kubeconfig import KubeconfigError, connection, from_kubeconfig

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def write(path: Path, user: dict[str, Any], cluster: dict[str, Any] | None = None) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster or {"server": "https://k:6443/"}}],
                "users": [{"name": "u", "user": user}],
                "contexts": [
                    {"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "team"}}
                ],
                "current-context": "x",
            }
        )
    )
    return path


def test_inline_data_and_token(tmp_path: Path) -> None:
    encoded = base64.b64encode(PEM.encode()).decode()
    cluster = {"server": "https://k:6443/", "certificate-authority-data": encoded}
    found = from_kubeconfig(write(tmp_path / "config", {"token": "abc"}, cluster))
    assert found.server == "https://k:6443"
    assert found.ca_data == PEM
    assert found.namespace == "team"
    assert found.headers() == {"Authorization": "Bearer abc"}


def test_relative_files_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "client.crt").write_text(PEM)
    (tmp_path / "pki" / "client.key").write_text("KEY")
    user = {"client-certificate": "pki/client.crt", "client-key": "pki/client.key"}
    found = from_kubeconfig(write(tmp_path / "config", user))
    assert (found.certificate_data, found.private_key_data) == (PEM, "KEY")
    assert found.headers() == {}


def test_a_token_file_is_reread_when_it_rotates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("first\n")
    found = from_kubeconfig(write(tmp_path / "config", {"tokenFile": "token"}))
    assert found.bearer_token() == "first"
    (tmp_path / "token").write_text("second\n")
    assert found.bearer_token() == "first"  # read at most once a minute
    monkeypatch.setattr(kubeconfig, "TOKEN_REREAD_SECONDS", -1.0)
    assert found.bearer_token() == "second"


def test_basic_auth(tmp_path: Path) -> None:
    found = from_kubeconfig(write(tmp_path / "config", {"username": "a", "password": "b"}))
    assert found.headers() == {"Authorization": "Basic YTpi"}


@pytest.mark.parametrize(
    ("user", "cluster", "expected"),
    [
        ({"exec": {"command": "aws"}}, None, "logs in with 'exec'"),
        ({"auth-provider": {"name": "gcp"}}, None, "logs in with 'auth-provider'"),
        ({"client-certificate": "missing.crt"}, None, "client-certificate"),
        ({"client-key-data": "%%%"}, None, "client-key-data is not base64"),
        ({}, {"insecure-skip-tls-verify": True}, "cluster 'c' has no server"),
    ],
)
def test_what_is_not_supported_is_named(
    tmp_path: Path, user: dict[str, Any], cluster: dict[str, Any] | None, expected: str
) -> None:
    path = write(tmp_path / "config", user, cluster)
    with pytest.raises(KubeconfigError, match=expected) as raised:
        from_kubeconfig(path)
    assert str(path) in str(raised.value)


def test_no_current_context(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(KubeconfigError, match="current-context is not set"):
        from_kubeconfig(path)


def test_in_cluster_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text(PEM)
    (tmp_path / "namespace").write_text("adx-system\n")
    monkeypatch.setattr(kubeconfig, "SERVICE_ACCOUNT", tmp_path)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    found = connection()
    assert found.server == "https://[fd00::1]:443"
    assert (found.ca_data, found.namespace) == (PEM, "adx-system")
    assert found.headers() == {"Authorization": "Bearer sa-token"}


def test_nothing_to_log_in_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kubeconfig, "SERVICE_ACCOUNT", tmp_path)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(KubeconfigError, match="no Kubernetes credentials"):
        connection()
