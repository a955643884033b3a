"""The samples' artifacts, published to the local registry under the name the samples use.

Why it exists: ``kubectl apply -f manifests/samples/`` must end with scanned, Active
installations, so every artifact a sample Module names must exist and be scannable. The samples
name ``registry.adxcore.com/modules/…`` as a real platform would; the local registry serves that
name as its mirror (``registry.mirrors``), the way an air-gapped cluster mirrors its registries.
Each start publishes them again: the same files make the same digests, so nothing changes
(nothing is downloaded: the images are assembled in code, the WASM from text, the package from
the scaffold). The Module specs come from the sample files themselves, so they cannot drift.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import wasmtime
import yaml

from adx_modules.authoring.package import build
from adx_modules.authoring.publish import publish as publish_artifact
from adx_modules.authoring.scaffold import scaffold
from adx_modules.devstack.images import push_image
from adx_modules.devstack.toolchain import project_root

SAMPLES_REGISTRY = "registry.adxcore.com"
REPOSITORY = "modules"

# ABI v1 (docs/wasm.md): memory, alloc(len) -> ptr, handle(ptr, len) -> (ptr << 32) | len.
# This guest answers with its input, unchanged: valid JSON in, the same JSON out.
UPPER_WAT = """
;; text-transform: answers the request with every string in it upper-cased (ASCII letters),
;; e.g. {"function": "text-transform", "input": {"text": "hi"}} ->
;;      {"FUNCTION": "TEXT-TRANSFORM", "INPUT": {"TEXT": "HI"}}
(module
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (if (i32.gt_u (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.const 1) (i32.div_u
        (i32.sub (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
        (i32.const 65536)))))))
    (local.get $ptr))
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32) (local $c i32) (local $quoted i32) (local $escaped i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (if (local.get $escaped)
          (then (local.set $escaped (i32.const 0)))
          (else
            (if (i32.eq (local.get $c) (i32.const 92))  ;; backslash
              (then (local.set $escaped (local.get $quoted))))
            (if (i32.eq (local.get $c) (i32.const 34))  ;; quote
              (then (local.set $quoted (i32.eqz (local.get $quoted)))))
            (if (i32.and (local.get $quoted)
                  (i32.and (i32.ge_u (local.get $c) (i32.const 97))
                           (i32.le_u (local.get $c) (i32.const 122))))
              (then (i32.store8 (i32.add (local.get $ptr) (local.get $i))
                                (i32.sub (local.get $c) (i32.const 32)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
      (i64.extend_i32_u (local.get $len)))))
"""


def sample_modules() -> list[dict[str, Any]]:
    """Every Module of ``manifests/samples``."""
    modules = []
    for path in sorted((project_root() / "manifests" / "samples").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") == "Module":
                modules.append(document)
    return modules


def _manifest(spec: dict[str, Any], directory: Path) -> Path:
    """The module's manifest.json: the sample's spec without its artifact."""
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps({k: v for k, v in spec.items() if k != "artifact"}, indent=2))
    return manifest


def _publish_one(spec: dict[str, Any], address: str, scratch: Path) -> None:
    artifact = spec["artifact"]
    for kind in ("image", "wasm", "package"):
        source = artifact.get(kind) or {}
        reference = str(source.get("reference") or source.get("oci") or "")
        if reference.startswith(f"{SAMPLES_REGISTRY}/"):
            break
    else:
        return  # not ours to publish
    repository, _, tag = reference.removeprefix(f"{SAMPLES_REGISTRY}/").partition(":")
    directory = scratch / spec["moduleId"]
    if kind == "image":
        files = {"module": f"{spec['moduleId']} {spec['version']}\n".encode()}
        push_image(address, repository, tag, files, insecure=True)
        return
    if kind == "wasm":
        directory.mkdir(parents=True)
        binary = directory / "module.wasm"
        binary.write_bytes(wasmtime.wat2wasm(UPPER_WAT))
        manifest = _manifest(spec, directory)
        publish_artifact(binary, address, repository=repository, insecure=True, manifest=manifest)
        return
    scaffold(directory, spec["moduleId"], spec["runtime"])
    manifest = _manifest(spec, directory)
    package = build(manifest, scratch / f"{spec['moduleId']}.adx").path
    publish_artifact(package, address, repository=repository, insecure=True)


def publish(address: str) -> None:
    """Push the artifacts every sample Module names (quietly: the authors' progress lines are
    for people at a terminal)."""
    with (
        tempfile.TemporaryDirectory(prefix="adx-samples-") as scratch,
        contextlib.redirect_stderr(io.StringIO()),
    ):
        for module in sample_modules():
            _publish_one(module["spec"], address, Path(scratch))
