"""Tenant isolation, generated from the route table (the OpenAPI paths): for every admin and
storefront route, shop A's key, signature or token never reads nor writes shop B. A route added
later is covered without touching this file; one whose path names something this file cannot
fill in fails here until it is taught what to put there."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.models import Base
from app.shops import service as shops
from app.state import AppState
from tests.storefront.signing import app_proxy_query, plugin_token

CUSTOMER = "424242"  # a member of shop B only
B_POINTS = 777_777
B_MARKER = "Bravo-only reward"
_PARAM = re.compile(r"\{(\w+)\}")


async def _shop(state: AppState, platform: str, name: str) -> shops.NewShop:
    async with state.db.write() as session:
        if platform == "shopify":
            return await shops.add_shopify(
                session, state.vault, domain=f"{name}.myshopify.com", access_token="shpat_x",
                api_secret=f"{name}-secret",
            )  # fmt: skip
        return await shops.add_woocommerce(
            session, state.vault, url=f"https://{name}.example", consumer_key="ck_1",
            consumer_secret="cs_1",
        )  # fmt: skip


async def _referral_of(state: AppState, shop_id: int) -> int:
    """A referral of the shop held for review (made directly: no program is needed for it)."""
    from app.orm import utcnow
    from app.referrals.models import Referral

    async with state.db.write() as session:
        referral = Referral(
            shop_id=shop_id, advocate_id=CUSTOMER, friend_id="515151", order_id="9", code="REF-X",
            via="attribute", rule="friends", program_version=1, status="review", flags=[],
            note=B_MARKER, approved=False, paid_at=utcnow(), release_at=utcnow(),
        )  # fmt: skip
        session.add(referral)
        await session.flush()
        return referral.id


async def _seed_b(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {key}"}
    adjusted = await client.post(
        f"/api/v1/members/{CUSTOMER}/adjustments",
        json={"points": B_POINTS, "reason": "seed", "idempotency_key": "seed"},
        headers=auth,
    )
    assert adjusted.status_code == 201, adjusted.text
    reward = await client.post(
        "/api/v1/rewards",
        json={
            "name": B_MARKER,
            "kind": "amount_off",
            "points_cost": 10,
            "value": 100,
            "active": True,
        },  # fmt: skip
        headers=auth,
    )
    assert reward.status_code == 201, reward.text
    redeemed = await client.post(
        f"/api/v1/members/{CUSTOMER}/redemptions",
        json={"reward_id": reward.json()["id"], "idempotency_key": "seed"},
        headers=auth,
    )
    assert redeemed.status_code in (201, 202), redeemed.text
    exported = await client.post(f"/api/v1/members/{CUSTOMER}/export", headers=auth)
    assert exported.status_code in (200, 201, 202), exported.text
    return {"customer_id": CUSTOMER, "reward_id": reward.json()["id"],
            "redemption_id": redeemed.json()["id"], "export_id": exported.json()["id"]}  # fmt: skip


async def _rows_of(state: AppState, shop_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that carries shop_id, for one shop."""
    seen: dict[str, list[tuple[Any, ...]]] = {}
    async with state.db.read() as session:
        for table in Base.metadata.sorted_tables:
            column = table.c.get("shop_id") if table.name != "shops" else table.c.id
            if column is None:
                continue
            rows = await session.execute(select(table).where(column == shop_id))
            seen[table.name] = sorted(tuple(r) for r in rows)
    return seen


def _bodies(ids: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """A valid body for the routes that take one (anything else gets {} and its 422)."""
    return {
        ("post", "/api/v1/members/{customer_id}/adjustments"):
            {"points": 5, "reason": "probe", "idempotency_key": "probe"},
        ("post", "/api/v1/rewards"):
            {"name": "probe", "kind": "amount_off", "points_cost": 1, "value": 1, "active": True},
        ("patch", "/api/v1/rewards/{reward_id}"): {"active": False, "name": "probe"},
        ("post", "/api/v1/members/{customer_id}/redemptions"):
            {"reward_id": ids["reward_id"], "idempotency_key": "probe"},
        ("post", "/storefront/shopify/redemptions"):
            {"reward_id": ids["reward_id"], "idempotency_key": "probe-0001"},
        ("post", "/storefront/woocommerce/{shop_id}/redemptions"):
            {"reward_id": ids["reward_id"], "idempotency_key": "probe-0001"},
    }  # fmt: skip


def _routes(client_app: Any, prefix: str) -> list[tuple[str, str]]:
    paths = client_app.openapi()["paths"]
    return [(m, p) for p, ops in paths.items() if p.startswith(prefix) for m in ops]


def _fill(path: str, ids: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in ids, f"{path}: teach tests/test_tenant_isolation.py what {{{name}}} is"
        return str(ids[name])

    return _PARAM.sub(one, path)


@pytest.fixture
def app_of(client: httpx.AsyncClient) -> Any:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    return transport.app


async def test_shop_a_admin_key_never_reaches_shop_b(
    client: httpx.AsyncClient, state: AppState, app_of: Any
) -> None:
    a = await _shop(state, "shopify", "alpha")
    b = await _shop(state, "shopify", "bravo")
    ids = await _seed_b(client, b.admin_api_key)
    ids["referral_id"] = await _referral_of(state, b.shop_id)
    before = await _rows_of(state, b.shop_id)
    routes = _routes(app_of, "/api/")
    assert len(routes) >= 10
    for method, path in routes:
        body = _bodies(ids).get((method, path), None if method == "get" else {})
        r = await client.request(
            method, _fill(path, ids), json=body,
            headers={"Authorization": f"Bearer {a.admin_api_key}"},
        )  # fmt: skip
        assert str(B_POINTS) not in r.text, (method, path, r.text)
        assert B_MARKER not in r.text, (method, path, r.text)
    assert await _rows_of(state, b.shop_id) == before


async def test_shop_a_signatures_and_tokens_never_reach_shop_b_storefront(
    client: httpx.AsyncClient, state: AppState, app_of: Any
) -> None:
    await _shop(state, "shopify", "alpha")
    shopify_b = await _shop(state, "shopify", "bravo")
    woo_a = await _shop(state, "woocommerce", "alpha")
    woo_b = await _shop(state, "woocommerce", "bravo")
    ids_s = await _seed_b(client, shopify_b.admin_api_key)
    ids_w = await _seed_b(client, woo_b.admin_api_key)
    before = {s: await _rows_of(state, s) for s in (shopify_b.shop_id, woo_b.shop_id)}
    ctx_a = await state.shops.by_id(woo_a.shop_id)
    assert ctx_a is not None
    assert ctx_a.storefront_secret is not None
    routes = _routes(app_of, "/storefront/")
    assert len(routes) >= 8
    for method, path in routes:
        if path.startswith("/storefront/shopify/"):
            attempts = {
                # Signed with A's secret, claiming to come from B's store: refused.
                "refused": app_proxy_query("alpha-secret", "bravo.myshopify.com", CUSTOMER),
                # A's own, genuine: A's view of that customer id, which holds nothing of B's.
                "own": app_proxy_query("alpha-secret", "alpha.myshopify.com", CUSTOMER),
            }
            for kind, query in attempts.items():
                r = await client.request(
                    method, f"{path}?{query}", json=_bodies(ids_s).get((method, path))
                )
                if kind == "refused":
                    assert r.status_code == 401, (path, r.text)
                assert str(B_POINTS) not in r.text, (path, kind, r.text)
                assert B_MARKER not in r.text, (path, kind, r.text)
        else:
            token = plugin_token(ctx_a.storefront_secret, CUSTOMER)
            for kind, shop_id in (("refused", woo_b.shop_id), ("own", woo_a.shop_id)):
                r = await client.request(
                    method, _fill(path, {"shop_id": shop_id}),
                    json=_bodies(ids_w).get((method, path)),
                    headers={"Authorization": f"Bearer {token}"},
                )  # fmt: skip
                if kind == "refused":
                    assert r.status_code == 401, (path, r.text)
                assert str(B_POINTS) not in r.text, (path, kind, r.text)
                assert B_MARKER not in r.text, (path, kind, r.text)
    for shop_id, rows in before.items():
        assert await _rows_of(state, shop_id) == rows
