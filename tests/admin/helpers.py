"""A shop with an admin user and a member, and a signed-in client: what the admin tests share."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from app.admin import auth
from app.members import adjustments
from app.members.models import Member
from app.shops import service as shops
from app.state import AppState

PASSWORD = "correct horse battery"


@dataclass
class AdminShop:
    shop_id: int
    domain: str
    email: str


async def admin_shop(
    state: AppState, name: str = "club", *, member: str = "207119551", points: int = 250,
    email: str = "sara@example.com",
) -> AdminShop:  # fmt: skip
    domain = f"{name}.myshopify.com"
    async with state.db.write() as session:
        new = await shops.add_shopify(
            session, state.vault, domain=domain, access_token="shpat_x", api_secret="s",
            api_url="http://127.0.0.1:9",  # no store: write-backs fail fast, nothing leaves
        )  # fmt: skip
        await auth.add_user(session, new.shop_id, f"owner@{name}.example", PASSWORD)
        session.add(Member(shop_id=new.shop_id, customer_id=member, email=email,
                           first_name="Sara", last_name="Ahmadi"))  # fmt: skip
        await session.flush()
        await adjustments.adjust(session, new.shop_id, member, points,
                                 idempotency_key=f"seed-{name}", reason="welcome gift")  # fmt: skip
    return AdminShop(new.shop_id, domain, f"owner@{name}.example")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, shop: AdminShop, password: str = PASSWORD
) -> httpx.Response:
    form = await client.get("/admin/sign-in")
    return await client.post(
        "/admin/sign-in",
        data={
            "csrf": csrf_of(form.text),
            "store": shop.domain,
            "email": shop.email,
            "password": password,
        },  # fmt: skip
    )
