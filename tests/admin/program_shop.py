"""A shop with a history for the program page's tests: an admin user, two members' paid orders
delivered as Shopify webhooks and processed, so that a simulation has something to replay."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx

from app.admin import auth
from app.state import AppState
from tests.admin.helpers import PASSWORD, AdminShop
from tests.conftest import ShopifyShop, make_shopify_shop
from tests.payloads import dumps, shopify_order

# (order id, customer id, merchandise): 181 + 50 points under the default 1 point per unit.
ORDERS = ((9001, 101, "181.09"), (9002, 102, "50.00"))
PAID = datetime(2025, 4, 2, 16, 31, 38, tzinfo=UTC)


def points_at(points: int, per_units: int = 1) -> int:
    """What the orders earn at ``points`` per ``per_units`` whole units, rounded down per order."""
    return sum(int(float(m)) // per_units * points for _, _, m in ORDERS)


async def program_shop(client: httpx.AsyncClient, state: AppState) -> tuple[AdminShop, ShopifyShop]:
    shop = await make_shopify_shop(state)
    async with state.db.write() as session:
        await auth.add_user(session, shop.shop_id, "owner@club.example", PASSWORD)
    for order_id, customer, merchandise in ORDERS:
        body = dumps(shopify_order(order_id, customer_id=customer, merchandise=merchandise))
        r = await client.post(
            "/webhooks/shopify", content=body,
            headers=shop.headers(body, "orders/paid", event_id=f"evt-{order_id}"),
        )  # fmt: skip
        assert r.status_code == 200, r.text
    await state.worker.drain(now=PAID + timedelta(days=1))
    return AdminShop(shop.shop_id, shop.domain, "owner@club.example"), shop


def form_values(html: str) -> dict[str, str]:
    """The program form's fields as the browser would send them (inputs and selected options)."""
    form = html[html.index('action="/admin/program"') :]
    form = form[: form.index("</form>")]
    values: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            values[unescape(name.group(1))] = unescape(value.group(1)) if value else ""
    for name, body in re.findall(r'<select[^>]*name="([^"]*)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body) or re.search(
            r'<option value="([^"]*)"', body
        )
        values[unescape(name)] = unescape(chosen.group(1)) if chosen else ""
    return values


def shown(html: str, attribute: str, key: str) -> str:
    """The text of the element whose ``attribute`` is ``key`` (e.g. data-sim="draft-…")."""
    found = re.search(rf'{attribute}="{re.escape(key)}"[^>]*>([^<]*)<', html)
    assert found is not None, f"{attribute}={key} not on the page"
    return unescape(found.group(1)).strip()
