"""What the API's routes use, built once per process, and the caller of each request.

Why it exists: routes are plain functions; what they need (the marketplace's services, the
Kubernetes client that reviews tokens and acts as the caller) is built by ``service/api.py`` (or
a test) and reached through FastAPI dependencies, so a route cannot forget to authenticate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from adx_modules.clients.kube import KubeClient
from adx_modules.clients.postgres import Store
from adx_modules.marketplace.purchases import Purchases
from adx_modules.marketplace.recommendations import Recommendations
from adx_modules.marketplace.reviews import Reviews
from adx_modules.marketplace.search import MarketplaceSearch
from adx_modules.web.auth import Authority, Caller
from adx_modules.web.limits import RateLimitedError, TokenBuckets


@dataclass(frozen=True)
class Services:
    """The API's collaborators."""

    kube: KubeClient
    authority: Authority
    purchases: Purchases
    search: MarketplaceSearch
    reviews: Reviews
    recommendations: Recommendations
    store: Store
    rates: TokenBuckets


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    """The authenticated caller (401 otherwise), within its rate (429 otherwise)."""
    using = services(request)
    found = await using.authority.authenticate(authorization)
    wait = using.rates.take(found.user)
    if wait > 0:
        raise RateLimitedError(found.user, wait)
    return found


Using = Annotated[Services, Depends(services)]
Authenticated = Annotated[Caller, Depends(caller)]
