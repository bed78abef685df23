"""A shop with an admin user and a member, and a signed-in client: what the admin tests share."""

from __future__ import annotations

import base64
import re
import secrets
import time
from dataclasses import dataclass

import httpx
import jwt

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


SHOPIFY_CLIENT_ID = "vafa-admin-test-app"
SHOPIFY_CLIENT_SECRET = "shpss_admin_test_secret_at_least_32_bytes"


def session_token(
    domain: str, *, lifetime: float = 600.0, aud: str = SHOPIFY_CLIENT_ID,
    secret: str = SHOPIFY_CLIENT_SECRET, sub: str = "42",
) -> str:  # fmt: skip
    """A session token as App Bridge hands the embedded admin one for ``domain``'s staff
    (a real one lives a minute; a test's lives longer, so a slow machine does not fail it)."""
    now = int(time.time())
    claims = {
        "iss": f"https://{domain}/admin", "dest": f"https://{domain}", "aud": aud, "sub": sub,
        "exp": now + int(lifetime), "nbf": now, "iat": now, "jti": secrets.token_hex(8),
        "sid": secrets.token_hex(8),
    }  # fmt: skip
    return jwt.encode(claims, secret, algorithm="HS256")


def embedded_query(shop: AdminShop, token: str) -> dict[str, str]:
    """The query Shopify opens the embedded app's URL with."""
    host = base64.urlsafe_b64encode(f"admin.shopify.com/store/{shop.domain}".encode()).decode()
    return {"shop": shop.domain, "host": host, "embedded": "1", "id_token": token}
