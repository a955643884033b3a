"""Where the Kubernetes API is and who we are to it: a kubeconfig file or the pod's service account.

Why it exists: the service's own client and Kopf must log in the same way, from one reading of
the credentials, so ``connection()`` is that reading and both use it (Kopf through the
operator's login handler). It supports what operators meet in practice: a server and its CA
(file or inline data, or ``insecure-skip-tls-verify``), client certificates (file or data), a
bearer token (inline or ``tokenFile``, re-read so projected tokens can rotate), basic auth, and
the in-cluster service account. Exec and auth-provider plugins are refused with a clear error
rather than half-supported: an operator in a cluster uses its service account.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_REREAD_SECONDS = 60.0


class KubeconfigError(Exception):
    """The credentials cannot be read: the message names the file and the field."""


@dataclass
class Connection:
    """One API server and the credentials to use with it."""

    server: str
    ca_data: str | None = None  # PEM
    insecure: bool = False
    certificate_data: str | None = None  # PEM
    private_key_data: str | None = None  # PEM
    token: str | None = None
    token_file: Path | None = None
    username: str | None = None
    password: str | None = None
    namespace: str | None = None
    _token_read_at: float = field(default=0.0, repr=False)

    def bearer_token(self) -> str | None:
        """The token, re-read from ``token_file`` at most once a minute (rotated tokens)."""
        if self.token_file is not None:
            now = time.monotonic()
            if self.token is None or now - self._token_read_at > TOKEN_REREAD_SECONDS:
                self.token = self.token_file.read_text(encoding="utf-8").strip() or None
                self._token_read_at = now
        return self.token

    def headers(self) -> dict[str, str]:
        token = self.bearer_token()
        if token:
            return {"Authorization": f"Bearer {token}"}
        if self.username is not None:
            pair = f"{self.username}:{self.password or ''}".encode()
            return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
        return {}

    def ssl_context(self) -> ssl.SSLContext:
        """TLS for this server: its CA (or the system's), our client certificate if any."""
        context = (
            ssl.create_default_context(cadata=self.ca_data)
            if self.ca_data
            else (ssl.create_default_context())
        )
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.certificate_data and self.private_key_data:
            # the ssl module loads a certificate chain from files only: a private temp dir,
            # removed as soon as the context holds the key
            with tempfile.TemporaryDirectory(prefix="adx-kube-") as directory:
                cert, key = Path(directory, "tls.crt"), Path(directory, "tls.key")
                cert.write_text(self.certificate_data, encoding="utf-8")
                key.touch(mode=0o600)
                key.write_text(self.private_key_data, encoding="utf-8")
                context.load_cert_chain(cert, key)
        return context


def connection(kubeconfig: str | None = None) -> Connection:
    """From ``kubeconfig``, else ``KUBECONFIG`` (the first file of the list), else
    ``~/.kube/config`` outside a pod, else the pod's service account."""
    path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    if path:
        return from_kubeconfig(Path(path).expanduser())
    if (SERVICE_ACCOUNT / "token").exists():
        return in_cluster()
    default = Path("~/.kube/config").expanduser()
    if default.exists():
        return from_kubeconfig(default)
    raise KubeconfigError(
        "no Kubernetes credentials: set KUBECONFIG, or run in a pod with a service account"
    )


def in_cluster() -> Connection:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if ":" in host:  # IPv6
        host = f"[{host}]"
    ca = SERVICE_ACCOUNT / "ca.crt"
    namespace = SERVICE_ACCOUNT / "namespace"
    return Connection(
        server=f"https://{host}:{port}",
        ca_data=ca.read_text(encoding="utf-8") if ca.exists() else None,
        token_file=SERVICE_ACCOUNT / "token",
        namespace=namespace.read_text(encoding="utf-8").strip() if namespace.exists() else None,
    )


def from_kubeconfig(path: Path) -> Connection:
    """The current context of one kubeconfig file; relative paths are relative to the file."""
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise KubeconfigError(f"{path}: cannot read the kubeconfig ({error})") from None
    current = config.get("current-context")
    if not current:
        raise KubeconfigError(f"{path}: current-context is not set")
    context = _named(config, "contexts", current, path)["context"]
    cluster = _named(config, "clusters", context.get("cluster"), path)["cluster"]
    user = _named(config, "users", context.get("user"), path).get("user") or {}
    for plugin in ("exec", "auth-provider"):
        if plugin in user:
            raise KubeconfigError(
                f"{path}: user {context.get('user')!r} logs in with {plugin!r}, which the "
                "service does not run; give it a token, a client certificate or a service account"
            )
    if not cluster.get("server"):
        raise KubeconfigError(f"{path}: cluster {context.get('cluster')!r} has no server")
    base = path.parent
    token_file = user.get("tokenFile")
    return Connection(
        server=str(cluster["server"]).rstrip("/"),
        ca_data=_pem(cluster, "certificate-authority", base, path),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        certificate_data=_pem(user, "client-certificate", base, path),
        private_key_data=_pem(user, "client-key", base, path),
        token=user.get("token"),
        token_file=(base / token_file) if token_file else None,
        username=user.get("username"),
        password=user.get("password"),
        namespace=context.get("namespace"),
    )


def _named(config: dict[str, Any], section: str, name: Any, path: Path) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if entry.get("name") == name:
            return dict(entry)
    raise KubeconfigError(f"{path}: no entry named {name!r} in {section}")


def _pem(section: dict[str, Any], key: str, base: Path, path: Path) -> str | None:
    """``key-data`` (base64) or the file ``key`` names."""
    if section.get(f"{key}-data"):
        try:
            encoded = "".join(str(section[f"{key}-data"]).split())
            return base64.b64decode(encoded, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise KubeconfigError(f"{path}: {key}-data is not base64 of a PEM") from None
    if section.get(key):
        file = base / str(section[key])
        try:
            return file.read_text(encoding="utf-8")
        except OSError as error:
            raise KubeconfigError(f"{path}: {key} {file}: {error.strerror}") from None
    return None
