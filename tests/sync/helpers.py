"""Shops on the fake stores, members' points moved, and the job queue read back: what the
app.sync tests share."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import func, select

from app.jobs.models import Job
from app.ledger.models import LedgerTransaction
from app.members import adjustments
from app.members.balances import Balance, balance_in
from app.orm import utcnow
from app.shops import service as shops
from app.state import AppState
from tests.fakes.shopify import DEFAULT_TOKEN, FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce
from tests.signing import shopify_headers

CUSTOMER = "207119551"
DOMAIN, SECRET = "club.myshopify.com", "hush"
_keys = itertools.count(1)


async def shopify_on(
    state: AppState,
    fake: FakeShopify,
    *,
    token: str = DEFAULT_TOKEN,
    secret: str = SECRET,
    domain: str = DOMAIN,
) -> int:
    async with state.db.write() as session:
        new = await shops.add_shopify(
            session,
            state.vault,
            domain=domain,
            access_token=token,
            api_secret=secret,
            api_url=fake.base_url,
        )
    return new.shop_id


async def woo_on(state: AppState, store: FakeWooCommerce) -> shops.NewShop:
    async with state.db.write() as session:
        return await shops.add_woocommerce(
            session,
            state.vault,
            url=store.url,
            consumer_key=store.consumer_key,
            consumer_secret=store.consumer_secret,
        )


def signed(body: bytes, topic: str) -> dict[str, str]:
    """Headers of a Shopify delivery to the shop :func:`shopify_on` makes."""
    return shopify_headers(body, secret=SECRET, topic=topic, domain=DOMAIN)


async def adjust(state: AppState, shop_id: int, points: int, customer: str = CUSTOMER) -> None:
    async with state.db.write() as session:
        await adjustments.adjust(
            session, shop_id, customer, points, idempotency_key=f"k{next(_keys)}", reason="gift"
        )


async def balance(state: AppState, shop_id: int, customer: str = CUSTOMER) -> Balance:
    async with state.db.read() as session:
        return await balance_in(session, shop_id, customer)


async def jobs_of(state: AppState, shop_id: int, kind: str) -> list[Job]:
    async with state.db.read() as session:
        query = select(Job).where(Job.shop_id == shop_id, Job.kind == kind).order_by(Job.id)
        return list((await session.scalars(query)).all())


async def transactions(state: AppState, shop_id: int) -> int:
    async with state.db.read() as session:
        query = select(func.count()).where(LedgerTransaction.shop_id == shop_id)
        return int(await session.scalar(query) or 0)


async def run_due_jobs(state: AppState, seconds: float = 5.0) -> int:
    """Run every job due within ``seconds`` from now (past the write-back's delay)."""
    return await state.worker.drain(now=utcnow() + timedelta(seconds=seconds))
