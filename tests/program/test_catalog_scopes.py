"""A Shopify shop whose app was not granted ``read_products`` (installed before Vafa asked for
it): collection rules cannot be judged, so the orders they judge fail with that reason until
the store owner approves it, while the shop stays active and its other work goes on."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.jobs.models import Job
from app.orm import utcnow
from app.shops.models import Shop
from app.state import AppState
from app.sync import tasks
from app.webhooks.models import WebhookEvent
from app.webhooks.processing import replay
from tests.fakes.shopify import DEFAULT_TOKEN, FakeShopify
from tests.fakes.shopify_orders import order_from_webhook
from tests.program.club import Club
from tests.program.test_catalog import (  # noqa: F401  (fixture)
    CUSTOMER,
    ORDER,
    SHOPIFY_PROGRAM,
    lines_order,
    shopify_club,
)

# What the app asked for before it asked for read_products.
WITHOUT_PRODUCTS = "read_orders,read_customers,write_customers,write_discounts,write_app_proxy"
APPROVED = WITHOUT_PRODUCTS + ",read_products"


async def _status(state: AppState, shop_id: int) -> tuple[str, str | None]:
    async with state.db.read() as session:
        status, reason = (
            await session.execute(select(Shop.status, Shop.status_reason).where(Shop.id == shop_id))
        ).one()
    return status, reason


def _says_what_is_missing(error: str | None) -> None:
    assert error is not None
    assert "read_products" in error
    assert "approve" in error  # what the store owner must do


async def test_an_order_fails_with_the_missing_scope_and_earns_once_the_owner_approves_it(
    shopify_club: Club,  # noqa: F811
    fake_shopify: FakeShopify,
    state: AppState,
) -> None:
    fake_shopify.set_scopes(DEFAULT_TOKEN, WITHOUT_PRODUCTS)
    await shopify_club.set(SHOPIFY_PROGRAM)
    await shopify_club.deliver("orders/paid", lines_order(5001, ORDER))

    # Never judged without the groups: no member, no points; the event, retried (no backoff
    # in tests), is parked with the reason for the operator.
    member = await shopify_club.client.get(
        f"/api/v1/members/{CUSTOMER}", headers=shopify_club.shop.auth
    )
    assert member.status_code == 404, member.text
    shop_id = shopify_club.shop.shop_id
    async with state.db.read() as session:
        status, error = (
            await session.execute(
                select(WebhookEvent.status, WebhookEvent.last_error).where(
                    WebhookEvent.shop_id == shop_id
                )
            )
        ).one()
    assert status == "failed"
    _says_what_is_missing(error)
    assert await _status(state, shop_id) == ("active", None)

    fake_shopify.set_scopes(DEFAULT_TOKEN, APPROVED)  # the owner approved the new access
    assert await replay(state.db, shop_id=shop_id, event_ids=[]) == 1  # vafa events replay
    await state.worker.drain()
    assert (await shopify_club.points(CUSTOMER))["available"] == 105
    await shopify_club.verify()


async def test_a_scope_not_granted_fails_the_sweep_and_leaves_the_shops_other_jobs_running(
    shopify_club: Club,  # noqa: F811
    fake_shopify: FakeShopify,
    state: AppState,
) -> None:
    """The sweep finds an order that needs product groups; ACCESS_DENIED must not pause the
    shop (as revoked credentials do), or its balance write-backs and reward codes stop too."""
    fake_shopify.set_scopes(DEFAULT_TOKEN, WITHOUT_PRODUCTS)
    await shopify_club.set(SHOPIFY_PROGRAM)
    stamp = utcnow().isoformat(timespec="seconds")
    fake_shopify.add_order(order_from_webhook(lines_order(5001, ORDER, updated_at=stamp)))
    shop_id = shopify_club.shop.shop_id
    shop = await state.shops.by_id(shop_id)
    assert shop is not None
    later = utcnow() + timedelta(minutes=11)
    assert await tasks.schedule_sweep(state.db, shop, later) == 1
    await state.worker.drain(now=later)

    assert await _status(state, shop_id) == ("active", None)
    async with state.db.read() as session:
        error = await session.scalar(
            select(Job.last_error).where(Job.shop_id == shop_id, Job.kind == tasks.SWEEP)
        )
    _says_what_is_missing(error)

    # A manual adjustment: its balance write-back reaches the store.
    response = await shopify_club.client.post(
        f"/api/v1/members/{CUSTOMER}/adjustments",
        headers=shopify_club.shop.auth,
        json={"points": 5, "idempotency_key": "goodwill", "reason": "goodwill"},
    )
    assert response.status_code == 201, response.text
    await state.worker.drain(now=later)
    assert fake_shopify.metafield(CUSTOMER, "points")["value"] == "5"

    # Approved: the next sweep (the failed one moved no cursor) imports the order and earns it.
    fake_shopify.set_scopes(DEFAULT_TOKEN, APPROVED)
    next_sweep = later + timedelta(minutes=11)
    assert await tasks.schedule_sweep(state.db, shop, next_sweep) == 1
    await state.worker.drain(now=next_sweep)
    assert (await shopify_club.points(CUSTOMER))["available"] == 110
    await shopify_club.verify()
