"""The API contract: pydantic models of the custom resources (the CRDs are generated from them),
condition types and reasons, and the group/version constants."""

from adx_modules.api.installation import (
    INSTALLATION,
    ModuleInstallationSpec,
    ModuleInstallationStatus,
)
from adx_modules.api.listing import LISTING, MarketplaceListingSpec, MarketplaceListingStatus
from adx_modules.api.meta import API_VERSION, FINALIZER, GROUP, VERSION, Condition, KindInfo
from adx_modules.api.module import MODULE, ModuleSpec, ModuleStatus

KINDS: tuple[KindInfo, ...] = (MODULE, INSTALLATION, LISTING)

__all__ = [
    "API_VERSION",
    "FINALIZER",
    "GROUP",
    "INSTALLATION",
    "KINDS",
    "LISTING",
    "MODULE",
    "VERSION",
    "Condition",
    "KindInfo",
    "MarketplaceListingSpec",
    "MarketplaceListingStatus",
    "ModuleInstallationSpec",
    "ModuleInstallationStatus",
    "ModuleSpec",
    "ModuleStatus",
]
