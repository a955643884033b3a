"""``adx-module-cli resolve``: preview a dependency resolution without touching a cluster.

Why it exists: a module author (or a tenant's GitOps review) wants to know what installing a
module would bring along, against a directory of the same Module manifests one would
``kubectl apply``, before anything is applied. Exit codes: 0 resolved, 2 bad input (the message
names the file and the field), 3 no solution (the message explains the collision).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from adx_modules.api.module import ModuleSpec
from adx_modules.api.types import DNS_LABEL
from adx_modules.authoring.errors import BAD_INPUT, NO_SOLUTION, InputError
from adx_modules.catalog.model import describe_validation_error
from adx_modules.catalog.resolver.catalog import catalog_of
from adx_modules.catalog.resolver.constraints import ConstraintError, parse_constraint
from adx_modules.catalog.resolver.engine import resolve
from adx_modules.catalog.resolver.model import Catalog, Requirement, ResolutionError

# libyaml's parser where PyYAML was built with it (its wheels are): 5x the pure-Python one, which
# spent 18 of 20 s reading a catalog of 20,000 manifests
PARALLEL_FROM = 1000  # files: fewer parse faster than worker processes start
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _documents(path: Path) -> list[Any]:
    try:
        documents = yaml.load_all(path.read_text(), Loader=SAFE_LOADER)
        return [doc for doc in documents if doc is not None]
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not valid YAML ({error})") from error


def _parsed(files: list[Path]) -> list[list[Any]]:
    """Every file's documents; a large catalog is parsed on every core (parsing is most of
    what reading one costs)."""
    cores = os.cpu_count() or 1
    if len(files) < PARALLEL_FROM or cores < 2:
        return [_documents(path) for path in files]
    with ProcessPoolExecutor(max_workers=cores) as pool:
        return list(pool.map(_documents, files, chunksize=max(1, len(files) // (cores * 8))))


def load_catalog(directory: Path) -> Catalog:
    """Every Module manifest in ``directory`` (other kinds are ignored)."""
    if not directory.is_dir():
        raise InputError(f"--catalog {directory}: not a directory")
    specs = []
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    for path, documents in zip(files, _parsed(files), strict=True):
        for document in documents:
            if not isinstance(document, dict) or document.get("kind") != "Module":
                continue
            name = (document.get("metadata") or {}).get("name", "?")
            try:
                specs.append(ModuleSpec.model_validate(document.get("spec") or {}))
            except ValidationError as error:
                detail = describe_validation_error(error, "spec")
                raise InputError(f"{path}: Module {name}: {detail}") from error
    try:
        return catalog_of(specs)
    except ConstraintError as error:  # the schema's pattern passed, the parser did not
        raise InputError(f"--catalog {directory}: a dependency constraint: {error}") from error


def load_installed(path: Path | None) -> dict[str, str]:
    """``{module: version}`` or ``[{module: ..., version: ...}]`` (``moduleId`` also works)."""
    if path is None:
        return {}
    documents = _documents(path)
    content = documents[0] if documents else {}
    entries: list[tuple[Any, Any]]
    if isinstance(content, dict):
        entries = list(content.items())
    elif isinstance(content, list):
        entries = [
            (item.get("module") or item.get("moduleId"), item.get("version"))
            if isinstance(item, dict)
            else (None, None)
            for item in content
        ]
    else:
        raise InputError(f"{path}: expected a mapping module -> version, or a list")
    installed: dict[str, str] = {}
    for index, (module, version) in enumerate(entries):
        if not isinstance(module, str) or not isinstance(version, str):
            raise InputError(f"{path}: entry {index}: needs a module and a version (strings)")
        installed[module] = version
    return installed


def parse_request(text: str) -> Requirement:
    """``MODULE`` or ``MODULE@CONSTRAINT``."""
    module, _, constraint = text.partition("@")
    if not re.match(DNS_LABEL, module) or len(module) > 63:
        raise InputError(f"MODULE {module!r}: not a module id (a lowercase DNS label)")
    try:
        return Requirement(module, parse_constraint(constraint or "*"))
    except ConstraintError as error:
        raise InputError(f"MODULE@CONSTRAINT {text!r}: {error}") from error


def resolve_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="adx-module-cli resolve",
        description="Resolve a module's dependencies against a directory of Module manifests.",
    )
    parser.add_argument("request", metavar="MODULE[@CONSTRAINT]")
    parser.add_argument("--catalog", type=Path, required=True, help="directory of Module YAML")
    parser.add_argument("--installed", type=Path, help="YAML/JSON of installed modules")
    parser.add_argument("--platform", help="the platform version to be compatible with")
    parser.add_argument("--output", choices=["text", "json"], default="text")
    args = parser.parse_args(argv)
    try:
        request = parse_request(args.request)
        catalog = load_catalog(args.catalog)
        installed = load_installed(args.installed)
        plan = resolve(catalog, request, installed=installed, platform=args.platform)
    except InputError as error:
        print(f"adx-module-cli resolve: {error}", file=sys.stderr)
        return BAD_INPUT
    except ResolutionError as error:
        print(f"no solution: {error}", file=sys.stdout if args.output == "text" else sys.stderr)
        if args.output == "json":
            print(json.dumps({"error": str(error)}))
        return NO_SOLUTION
    if args.output == "json":
        install = [{"module": p.module_id, "version": p.version} for p in plan.to_install]
        print(json.dumps({"install": install}))
    else:
        for pin in plan.order:
            print(f"{'keep   ' if pin.kept else 'install'} {pin.module_id} {pin.version}")
    return 0
