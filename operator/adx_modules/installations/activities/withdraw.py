"""Withdrawing an installation whose module the tenant may no longer run.

Why it exists: with ``marketplace.revocation_policy = "uninstall"`` a refunded module is
uninstalled: its ModuleInstallation is deleted, so the uninstall workflow (backup, cleanup,
finalizer) runs exactly as for a delete by the tenant. Only the object the revocation named is
deleted (by uid): a newer object of the same name is left alone.
"""

from __future__ import annotations

from temporalio import activity

from adx_modules.api.installation import INSTALLATION
from adx_modules.clients.kube import KubeClient
from adx_modules.core.refs import InstallationRef
from adx_modules.installations.contract import Activities


class WithdrawActivities:
    """Deletes ModuleInstallations through the Kubernetes API."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    @activity.defn(name=Activities.WITHDRAW)
    async def withdraw(self, ref: InstallationRef) -> bool:
        """Delete the installation if it is still the one named; False if it is gone."""
        return await self._kube.delete_custom(INSTALLATION, ref.name, ref.namespace, uid=ref.uid)
