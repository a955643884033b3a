"""``adx-module-service purchases ...``: an operator's hand on purchases.

Why it exists: the manual provider needs an approver, support needs to refund, and a platform
operator needs to see what a tenant bought — without a front end. It drives the same library the
HTTP API does (the purchase workflow, its signals, the refund workflow), with the service's
settings; a refusal prints its reason and exits 2.

    adx-module-service purchases buy TENANT LISTING --user USER (--invoice REF | --card TOKEN)
    adx-module-service purchases approve|reject PURCHASE [--approver NAME]
    adx-module-service purchases refund PURCHASE [--reason TEXT]
    adx-module-service purchases list TENANT
    adx-module-service purchases show PURCHASE
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from adx_modules.core.settings import Settings

if TYPE_CHECKING:  # the drivers load when a purchase command runs, not with every role's parser
    from adx_modules.marketplace.purchases import Purchases

REFUSED = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``purchases`` subcommands, on the service's parser."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    buy = actions.add_parser("buy", help="buy a listing for a tenant")
    buy.add_argument("tenant", help="the tenant (its namespace)")
    buy.add_argument("listing", help="the MarketplaceListing's name")
    buy.add_argument("--user", required=True, help="who buys")
    way = buy.add_mutually_exclusive_group(required=True)
    way.add_argument("--invoice", metavar="REF", help="pay by invoice (an approver decides)")
    way.add_argument("--card", metavar="TOKEN", help="a Stripe card token (tok_...) or pm_...")
    buy.add_argument("--key", help="idempotency key (default: a new one)")
    for verb in ("approve", "reject"):
        decide = actions.add_parser(verb, help=f"{verb} an invoice purchase")
        decide.add_argument("purchase")
        decide.add_argument("--approver", default=getpass.getuser())
    refund = actions.add_parser("refund", help="refund a purchase (revokes its entitlement)")
    refund.add_argument("purchase")
    refund.add_argument("--reason", default="")
    listed = actions.add_parser("list", help="a tenant's purchases, newest first")
    listed.add_argument("tenant")
    show = actions.add_parser("show", help="one purchase")
    show.add_argument("purchase")


@asynccontextmanager
async def _purchases(settings: Settings) -> AsyncIterator[Purchases]:
    from adx_modules.clients import temporal  # noqa: PLC0415
    from adx_modules.clients.kube import KubeClient  # noqa: PLC0415
    from adx_modules.core.database import open_store  # noqa: PLC0415
    from adx_modules.marketplace.purchases import Purchases  # noqa: PLC0415

    client = await temporal.connect(settings.temporal.address, settings.temporal.namespace)
    async with (
        await KubeClient.connect() as kube,
        await open_store(settings.database) as store,
    ):
        yield Purchases.from_settings(client, store, kube, settings)


async def _act(settings: Settings, args: argparse.Namespace) -> object:
    from adx_modules.marketplace.purchases import PaymentMethod  # noqa: PLC0415

    async with _purchases(settings) as purchases:
        if args.action == "buy":
            method = (
                {"Invoice": {"reference": args.invoice}}
                if args.invoice is not None
                else {"CreditCard": {"token": args.card}}
            )
            record = await purchases.purchase(
                tenant=args.tenant,
                user=args.user,
                listing=args.listing,
                payment_method=PaymentMethod.model_validate(method),
                idempotency_key=args.key or str(uuid.uuid4()),
            )
            return await purchases.view(record.id)
        if args.action in ("approve", "reject"):
            record = await purchases.decide(
                args.purchase, approver=args.approver, approve=args.action == "approve"
            )
            return {"purchase_id": record.id, "decision": args.action}
        if args.action == "refund":
            record = await purchases.refund(
                args.purchase, actor=getpass.getuser(), reason=args.reason
            )
            return {"purchase_id": record.id, "refund": "started"}
        if args.action == "list":
            return await purchases.of_tenant(args.tenant)
        return await purchases.view(args.purchase)


def run(settings: Settings, args: argparse.Namespace) -> int:
    from adx_modules.clients.errors import ClientError  # noqa: PLC0415
    from adx_modules.marketplace.purchases import PurchaseError  # noqa: PLC0415

    try:
        answer = asyncio.run(_act(settings, args))
    except PurchaseError as error:
        print(f"purchases: {error.message}", file=sys.stderr)
        return REFUSED
    except (ClientError, OSError) as error:
        print(f"purchases: {error}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    return 0
