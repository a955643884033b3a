"""``adx-module-cli init | validate | package | publish``: arguments, output and exit codes.

Why it exists: each command is a thin shell over one module (scaffold, manifest, package,
publish) that turns its result into lines on stdout, its InputError into one line on stderr
naming the file and field, and both into the exit codes scripts rely on (0 done, 2 bad input).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from adx_modules.api.types import DNS_LABEL
from adx_modules.authoring.errors import BAD_INPUT, OK, InputError
from adx_modules.authoring.manifest import MANIFEST, lint, load_manifest
from adx_modules.authoring.package import build
from adx_modules.authoring.publish import publish
from adx_modules.authoring.scaffold import RUNTIMES, scaffold


def _failed(command: str, error: InputError) -> int:
    print(f"adx-module-cli {command}: {error}", file=sys.stderr)
    return BAD_INPUT


def init_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="adx-module-cli init", description="Scaffold a new module: manifest, code, a test."
    )
    parser.add_argument("module_id", metavar="MODULE_ID", help="a lowercase DNS label")
    parser.add_argument("--runtime", choices=RUNTIMES, default="python")
    parser.add_argument("--dir", type=Path, help="where (default: ./MODULE_ID)")
    args = parser.parse_args(argv)
    try:
        if not re.match(DNS_LABEL, args.module_id) or len(args.module_id) > 63:
            raise InputError(f"MODULE_ID {args.module_id!r}: not a lowercase DNS label")
        written = scaffold(args.dir or Path(args.module_id), args.module_id, args.runtime)
    except InputError as error:
        return _failed("init", error)
    for path in written:
        print(f"created {path}")
    return OK


def validate_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="adx-module-cli validate",
        description="Check a manifest with the service's own rules; print advice (lint).",
    )
    parser.add_argument("--manifest", type=Path, default=Path(MANIFEST))
    parser.add_argument("--strict", action="store_true", help="advice fails the check too")
    parser.add_argument("--output", choices=["text", "json"], default="text")
    args = parser.parse_args(argv)
    try:
        manifest = load_manifest(args.manifest)
    except InputError as error:
        return _failed("validate", error)
    advice = lint(manifest)
    if args.output == "json":
        print(json.dumps({"valid": True, "lint": [vars(item) for item in advice]}, indent=2))
    else:
        for item in advice:
            print(f"{args.manifest}: {item}", file=sys.stderr)
        print(
            f"{args.manifest}: {manifest.module_id} {manifest.version} is valid"
            + (f" ({len(advice)} lint finding(s))" if advice else "")
        )
    return BAD_INPUT if args.strict and advice else OK


def package_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="adx-module-cli package",
        description="Build a reproducible .adx package (same inputs, same bytes, same digest).",
    )
    parser.add_argument("--manifest", type=Path, default=Path(MANIFEST))
    parser.add_argument("--output", type=Path, help="default: MODULE_ID-VERSION.adx")
    args = parser.parse_args(argv)
    try:
        manifest = load_manifest(args.manifest)
        output = args.output or Path(f"{manifest.module_id}-{manifest.version}.adx")
        package = build(args.manifest, output)
    except InputError as error:
        return _failed("package", error)
    print(f"{package.path}: {package.digest} ({package.size} bytes, {len(package.files)} entries)")
    return OK


def publish_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="adx-module-cli publish",
        description="Push an .adx package or a .wasm to an OCI registry; print the Module that "
        "pins it by digest (kubectl apply -f - takes it).",
    )
    parser.add_argument("artifact", type=Path, metavar="PACKAGE.adx|MODULE.wasm")
    parser.add_argument(
        "--registry",
        default=os.environ.get("ADX_REGISTRY_ADDRESS"),
        help="host[:port] (default: $ADX_REGISTRY_ADDRESS, the local stack's registry)",
    )
    parser.add_argument("--repository", help="default: adx-modules/MODULE_ID")
    parser.add_argument("--manifest", type=Path, help="the manifest of a .wasm")
    parser.add_argument(
        "--insecure",
        action="store_true",
        default=os.environ.get("ADX_REGISTRY_INSECURE") == "true",
        help="plain HTTP (a loopback registry only; default: $ADX_REGISTRY_INSECURE)",
    )
    parser.add_argument("--output", type=Path, help="write the Module YAML here, not to stdout")
    args = parser.parse_args(argv)
    if not args.registry:
        return _failed("publish", InputError("--registry: no registry (nor ADX_REGISTRY_ADDRESS)"))
    try:
        published = publish(
            args.artifact,
            args.registry,
            repository=args.repository,
            insecure=args.insecure,
            manifest=args.manifest,
        )
    except InputError as error:
        return _failed("publish", error)
    document = yaml.safe_dump(published.module, sort_keys=False)
    if args.output:
        args.output.write_text(document)
        print(f"wrote {args.output}: kubectl apply -f {args.output}", file=sys.stderr)
    else:
        sys.stdout.write("---\n" + document)
    return OK
