"""An installed shop: registered once, its webhooks made and its past orders read, however many
times it is installed.

Installing again (a second click, a reinstall after an uninstall, token exchange on every load
of the embedded app) finds the shop by its domain and only gives it the new token: it is never
a second shop, and the jobs it asks for are keyed, so each is one job that runs again (the
webhook sync makes what is missing; the backfill's ledger keys post nothing twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import Platform
from app.crypto import Vault
from app.db import Database
from app.orm import utcnow
from app.shopify_app import tasks
from app.shops import service as shops
from app.shops.models import Shop, ShopStatus
from app.sync import tasks as sync_tasks


@dataclass(frozen=True, slots=True)
class Installed:
    shop_id: int
    domain: str
    created: bool  # False: the shop was there already and has the new token


async def install(
    db: Database,
    vault: Vault,
    *,
    domain: str,
    access_token: str,
    client_secret: str,
    api_url: str,
    sync_webhooks: bool,
    now: datetime | None = None,
) -> Installed:
    """Register (or update) the shop with its offline token, in one transaction that also asks
    for its webhooks (``sync_webhooks``: VAFA_PUBLIC_URL is set) and its first backfill."""
    for attempt in range(2):
        try:
            async with db.write() as session:
                installed = await _register(
                    session,
                    vault,
                    domain=domain,
                    access_token=access_token,
                    client_secret=client_secret,
                    api_url=api_url,
                )
                if sync_webhooks:
                    await sync_tasks.enqueue_webhook_sync(session, installed.shop_id)
                until = now or utcnow()
                since = until - timedelta(days=tasks.BACKFILL_DAYS)
                await tasks.enqueue_backfill(session, installed.shop_id, since, until)
            return installed
        except IntegrityError:
            # Two installs of a new shop at once: the other one made it; update that one.
            if attempt:
                raise
    raise AssertionError("unreachable")


async def _register(
    session: AsyncSession,
    vault: Vault,
    *,
    domain: str,
    access_token: str,
    client_secret: str,
    api_url: str,
) -> Installed:
    shop = await session.scalar(
        select(Shop)
        .where(Shop.platform == Platform.SHOPIFY.value, Shop.domain == domain)
        .with_for_update()
    )
    if shop is None:
        new = await shops.add_shopify(
            session,
            vault,
            domain=domain,
            access_token=access_token,
            api_secret=client_secret,
            api_url=api_url,
        )
        return Installed(new.shop_id, domain, created=True)
    creds = vault.open(shop.credentials)
    # The app's secret signs the shop's webhooks from now on; the one before (a rotated
    # secret, or the shop's own custom app) still verifies what it signed meanwhile.
    previous = [s for s in creds.get("api_secrets", []) if s and s != client_secret]
    shop.credentials = vault.seal(
        shops.shopify_credentials(
            access_token=access_token, api_secret=client_secret, client_id=None, client_secret=None
        )
        | {"api_secrets": [client_secret, *previous[:1]]}
    )
    shop.api_url = api_url
    if shop.status == ShopStatus.PAUSED:
        # Paused as its token stopped working (an uninstall): the new one works. A shop the
        # operator disabled stays disabled.
        shop.status, shop.status_reason, shop.status_changed_at = ShopStatus.ACTIVE, None, utcnow()
    await session.flush()
    return Installed(shop.id, domain, created=False)


async def has_working_token(db: Database, vault: Vault, domain: str) -> bool:
    """The shop is installed, active and holds a token: token exchange need not run again."""
    async with db.read() as session:
        shop = await session.scalar(
            select(Shop).where(Shop.platform == Platform.SHOPIFY.value, Shop.domain == domain)
        )
    if shop is None or shop.status != ShopStatus.ACTIVE:
        return False
    return bool(vault.open(shop.credentials).get("access_token"))
