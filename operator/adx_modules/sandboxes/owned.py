"""Objects a sandbox backend creates for an installation: found, refused when not its own,
deleted only when its own.

Why it exists: every backend that puts objects in a tenant's namespace (the container backend's
pod and companions, the WASM backend's Service) keeps one rule: an object of the same name
without this installation's owner reference is never adopted, changed or deleted; the install
stops at once and names it (as Helm refuses to adopt what it did not create). Deletes carry a
uid precondition, so an object recreated under the same name meanwhile is left alone.
"""

from __future__ import annotations

from typing import Any

from adx_modules.api import reasons as r
from adx_modules.clients.errors import NotFoundError
from adx_modules.clients.kube import KubeClient
from adx_modules.core.errors import StepError
from adx_modules.core.refs import InstallationRef
from adx_modules.sandboxes.container.manifests import owned_by


async def existing(kube: KubeClient, ref: InstallationRef, kind: str, name: str) -> dict[str, Any]:
    """The object if it exists ({} if not); StepError(ObjectConflict) if it is not ours."""
    try:
        body = await kube.get_object(kind, name, ref.namespace)
    except NotFoundError:
        return {}
    if not owned_by(body, ref):
        raise StepError(
            r.OBJECT_CONFLICT,
            f"{kind} {name} already exists in namespace {ref.namespace} and does not belong "
            f"to ModuleInstallation {ref.name}; it was left untouched. Rename the "
            "installation or remove that object",
        )
    return body


async def delete(kube: KubeClient, ref: InstallationRef, kind: str, name: str) -> bool:
    """Delete the object if it is this installation's (uid precondition); whether it did."""
    try:
        body = await kube.get_object(kind, name, ref.namespace)
    except NotFoundError:
        return False
    if not owned_by(body, ref):
        return False
    uid = str(body["metadata"]["uid"])
    return bool(await kube.delete_object(kind, name, ref.namespace, uid=uid))
