"""The embedded admin calls the admin API with a session token instead of the admin API key:
every admin route (read from the app's route table, so a new one is covered too) takes either,
and a token names its own shop only."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.members import adjustments
from app.shops import service as shops
from app.state import AppState
from tests.fakes.shopify import FakeShopify

SHOP, OTHER = "club.myshopify.com", "other.myshopify.com"
CUSTOMER, OTHERS_CUSTOMER = "207119551", "555"


def _admin_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route the API documents as taking the admin credential, its
    path parameters filled in; every ``/api/`` route must be one."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            admin = {"AdminKey": []} in (operation.get("security") or [])
            assert admin or not path.startswith("/api/"), f"{method} {path} takes no credential"
            if admin:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "1", path)))
    return found


ADMIN_ROUTES = _admin_routes(create_app())


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _for_shop(fake: FakeShopify, domain: str) -> str:
    return fake.session_token(iss=f"https://{domain}/admin", dest=f"https://{domain}")


async def _shop(state: AppState, domain: str, customer: str, points: int) -> shops.NewShop:
    async with state.db.write() as session:
        new = await shops.add_shopify(
            session, state.vault, domain=domain, access_token="shpat_x", api_secret="s"
        )
        await adjustments.adjust(
            session, new.shop_id, customer, points, idempotency_key="gift", reason="gift"
        )
    return new


@pytest.fixture
async def two_shops(state: AppState) -> tuple[shops.NewShop, shops.NewShop]:
    return await _shop(state, SHOP, CUSTOMER, 30), await _shop(state, OTHER, OTHERS_CUSTOMER, 70)


class TestEveryAdminRoute:
    def test_the_route_table_has_admin_routes(self) -> None:
        assert ("GET", "/api/v1/members/1") in ADMIN_ROUTES
        assert len(ADMIN_ROUTES) >= 8

    @pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
    async def test_takes_a_session_token_as_well_as_the_admin_key(
        self,
        client: httpx.AsyncClient,
        fake_shopify: FakeShopify,
        two_shops: tuple[shops.NewShop, shops.NewShop],
        method: str,
        path: str,
    ) -> None:
        mine = two_shops[0]
        for credential in (fake_shopify.session_token(), mine.admin_api_key):
            response = await client.request(method, path, headers=_bearer(credential), json={})
            # Past the credential check: whatever the route then says of this request.
            assert response.status_code != 401, response.text

    @pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
    @pytest.mark.parametrize("kind", ["expired", "forged", "another app", "not installed"])
    async def test_refuses_a_bad_session_token(
        self,
        client: httpx.AsyncClient,
        fake_shopify: FakeShopify,
        two_shops: tuple[shops.NewShop, shops.NewShop],
        method: str,
        path: str,
        kind: str,
    ) -> None:
        if kind == "expired":
            token = fake_shopify.session_token(lifetime=-30)
        elif kind == "forged":
            header, claims, signature = fake_shopify.session_token().split(".")
            token = f"{header}.{claims}.{signature[::-1]}"
        elif kind == "another app":
            token = fake_shopify.session_token(aud="another-app")
        else:
            token = _for_shop(fake_shopify, "stranger.myshopify.com")
        response = await client.request(method, path, headers=_bearer(token), json={})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


class TestIsolation:
    async def test_a_shops_token_reads_its_own_members_only(
        self,
        client: httpx.AsyncClient,
        fake_shopify: FakeShopify,
        two_shops: tuple[shops.NewShop, shops.NewShop],
    ) -> None:
        mine = _bearer(fake_shopify.session_token())
        own = await client.get(f"/api/v1/members/{CUSTOMER}", headers=mine)
        assert own.status_code == 200
        assert own.json()["points"]["available"] == 30
        theirs = await client.get(f"/api/v1/members/{OTHERS_CUSTOMER}", headers=mine)
        assert theirs.status_code == 404
        other = _bearer(_for_shop(fake_shopify, OTHER))
        seen = await client.get(f"/api/v1/members/{OTHERS_CUSTOMER}", headers=other)
        assert seen.json()["points"]["available"] == 70

    async def test_a_token_writes_to_its_own_shop_only(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        fake_shopify: FakeShopify,
        two_shops: tuple[shops.NewShop, shops.NewShop],
    ) -> None:
        mine = _bearer(fake_shopify.session_token())
        response = await client.post(
            f"/api/v1/members/{OTHERS_CUSTOMER}/adjustments",
            headers=mine,
            json={"points": 5, "idempotency_key": "k1", "reason": "test"},
        )
        assert response.status_code == 201, response.text
        other = _bearer(two_shops[1].admin_api_key)
        untouched = await client.get(f"/api/v1/members/{OTHERS_CUSTOMER}", headers=other)
        assert untouched.json()["points"]["available"] == 70

    async def test_a_disabled_shops_token_is_refused(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        fake_shopify: FakeShopify,
        two_shops: tuple[shops.NewShop, shops.NewShop],
    ) -> None:
        async with state.db.write() as session:
            await shops.set_status(session, two_shops[0].shop_id, shops.DISABLED)
        response = await client.get(
            f"/api/v1/members/{CUSTOMER}", headers=_bearer(fake_shopify.session_token())
        )
        assert response.status_code == 401
