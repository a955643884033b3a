"""Manifest analysis: what a module asks for, judged before it runs.

Why it exists: tenants approve permissions one by one, so a permission that reaches everything
(``network:access:*``), a wildcard, an admin grant or a system path deserves a finding of its
own, as does a module without resource limits. The same judgement serves the scan (findings
that lower the score) and ``adx-module-cli validate`` (the author's lint), so an author sees at
home exactly what the service will hold against the module.
"""

from __future__ import annotations

from adx_modules.api.module import ModuleSpec
from adx_modules.catalog.scanning.findings import Finding

SCANNER = "manifest"
BROAD_TARGETS = {
    "database": ("*",),
    "network": ("*", "0.0.0.0/0", "::/0"),
    "secret": ("*",),
    "storage": ("*", "/"),
    "workflow": ("*",),
    "api": ("*", "/"),
    "event": ("*",),
}
SYSTEM_PATHS = ("/", "/etc", "/proc", "/sys", "/dev", "/var/run", "/root", "/home")


def _system_path(target: str) -> bool:
    path = target.rstrip("/") or "/"
    return path in SYSTEM_PATHS or any(path.startswith(f"{p}/") for p in SYSTEM_PATHS[1:])


def _permission(index: int, permission: str) -> list[Finding]:
    where = f"manifest.permissions[{index}]"
    resource, action, target = permission.split(":", 2)
    found = []
    if resource == "file" and _system_path(target):
        found.append(
            Finding(
                SCANNER,
                "HIGH",
                "system-path",
                f"{permission!r} reaches a system "
                "path; use a path of the module's own (e.g. /tmp/<module>)",
                where,
            )
        )
    elif target in BROAD_TARGETS.get(resource, ()):
        found.append(
            Finding(
                SCANNER,
                "MEDIUM",
                "broad-permission",
                f"{permission!r} grants every {resource} target; name the ones the module uses",
                where,
            )
        )
    elif "*" in target:
        found.append(
            Finding(
                SCANNER,
                "LOW",
                "wildcard-permission",
                f"{permission!r} uses a "
                "wildcard; tenants approve each permission, so name what the "
                "module needs",
                where,
            )
        )
    if resource == "database" and action == "admin":
        found.append(
            Finding(
                SCANNER,
                "LOW",
                "admin-permission",
                f"{permission!r} asks for admin; read or write is usually enough",
                where,
            )
        )
    return found


def analyze(spec: ModuleSpec) -> list[Finding]:
    """Findings about the permissions and resources ``spec`` declares."""
    found = [f for i, p in enumerate(spec.permissions) for f in _permission(i, p)]
    if spec.resources is None or spec.resources.limits is None:
        found.append(
            Finding(
                SCANNER,
                "LOW",
                "no-limits",
                "not set: the sandbox's defaults "
                "apply; declare the CPU and memory the module may use",
                "manifest.resources.limits",
            )
        )
    return found
