"""``/api/v1/program``: the newest version, every version, a new one; precise 422s; the
document's schema in OpenAPI; shops and ``vafa shop settings`` keep versions too."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from app.program.models import ProgramVersion
from app.shops import service as shops
from app.state import AppState
from tests.conftest import ShopifyShop, make_shopify_shop
from tests.program.club import EFFECTIVE, Club

NTH = {"rules": [{"key": "purchase", "type": "purchase", "points": 1},
                 {"key": "third", "type": "nth_order", "every": 3, "points": 30}]}  # fmt: skip


async def _stored(state: AppState, shop_id: int) -> list[int]:
    async with state.db.read() as session:
        return list(
            (
                await session.scalars(
                    select(ProgramVersion.version)
                    .where(ProgramVersion.shop_id == shop_id)
                    .order_by(ProgramVersion.version)
                )
            ).all()
        )


async def test_a_new_shop_has_version_1_from_its_settings(
    client: httpx.AsyncClient, state: AppState
) -> None:
    shop = await make_shopify_shop(state, settings={"points_per_unit": "0.1", "hold_days": 3})
    assert await _stored(state, shop.shop_id) == [1]
    r = await client.get("/api/v1/program", headers=shop.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["version"], body["effective_at"]) == (1, "1970-01-01T00:00:00Z")
    assert body["document"]["hold_days"] == 3
    assert body["document"]["rules"] == [
        {"key": "purchase", "type": "purchase", "points": 1, "per_units": 10, "active": True,
         "rounding": "down", "include_shipping": False, "include_tax": False,
         "multipliers": [], "exclusions": []},
    ]  # fmt: skip


async def test_put_makes_the_next_version_and_the_same_document_again_makes_none(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    club = Club(client, state, shopify_shop)
    r = await club.put({**NTH, "hold_days": 7})
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["effective_at"]) == (2, "2027-01-01T00:00:00Z")
    again = await club.put({**NTH, "hold_days": 7}, effective_at=None)
    assert (again.status_code, again.json()["version"]) == (200, 2)
    r = await client.get("/api/v1/program", headers=shopify_shop.auth)
    assert r.json()["version"] == 2
    assert r.json()["document"]["rules"][1]["every"] == 3
    r = await client.get("/api/v1/program/versions", headers=shopify_shop.auth)
    assert [(v["version"], v["effective_at"]) for v in r.json()["versions"]] == [
        (1, "1970-01-01T00:00:00Z"), (2, EFFECTIVE)]  # fmt: skip
    # The policies of the newest version are the shop's settings (hold, currency, ...).
    ctx = await state.shops.by_id(shopify_shop.shop_id)
    assert ctx is not None
    assert ctx.settings.hold_days == 7


async def _problem(club: Club, document: dict[str, Any], **kw: Any) -> tuple[int, dict[str, Any]]:
    r = await club.put(document, **kw)
    error: dict[str, Any] = r.json()["error"]
    return r.status_code, error


async def test_a_bad_document_is_refused_with_the_exact_field(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    club = Club(client, state, shopify_shop)
    bad = {"rules": [*NTH["rules"], {"key": "x", "type": "nth_order", "every": 1, "points": 5}]}
    status, error = await _problem(club, bad)
    assert (status, error["code"]) == (422, "validation_error")
    assert error["message"].startswith("body.rules.2.nth_order.every: ")
    assert [d["field"] for d in error["details"]] == ["body.rules.2.nth_order.every"]

    status, error = await _problem(club, {"rules": [{"key": "p", "type": "points"}]})
    assert status == 422
    assert error["details"][0]["field"] == "body.rules.0"
    assert "purchase" in error["details"][0]["message"]  # the tags it expects

    status, error = await _problem(club, {"rules": [], "timezone": "Mars/Olympus"})
    assert (status, error["details"][0]["field"]) == (422, "body.timezone")

    status, error = await _problem(club, NTH, effective_at="2020-01-01T00:00:00Z")
    assert (status, error["code"]) == (422, "validation_error")
    assert "in the past" in error["message"]
    status, error = await _problem(club, NTH, effective_at="2030-01-01T00:00:00")
    assert (status, error["message"].split(":")[0]) == (422, "effective_at")
    assert await _stored(state, shopify_shop.shop_id) == [1]  # nothing was written


async def test_openapi_publishes_the_documents_schema_with_its_discriminated_rules(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    put = spec["paths"]["/api/v1/program"]["put"]
    ref = put["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = ref.removeprefix("#/components/schemas/")
    assert name.startswith("ProgramDocument")  # "-Input": decimals are written as strings
    schemas = spec["components"]["schemas"]
    items = schemas[name]["properties"]["rules"]["items"]
    assert items["discriminator"]["propertyName"] == "type"
    assert set(items["discriminator"]["mapping"]) == {
        "purchase", "first_order", "nth_order", "spend_goal", "signup", "birthday", "event",
        "campaign", "referral", "badge"}  # fmt: skip
    nth = items["discriminator"]["mapping"]["nth_order"].removeprefix("#/components/schemas/")
    assert "every" in schemas[nth]["properties"]
    assert set(put["responses"]) >= {"200", "201", "422"}


async def test_shop_settings_publish_a_version_and_a_rate_change_its_purchase_rule(
    state: AppState, client: httpx.AsyncClient, shopify_shop: ShopifyShop
) -> None:
    club = Club(client, state, shopify_shop)
    await club.set({**NTH}, effective_at=None)
    async with state.db.write() as session:
        await shops.update_settings(
            session, shopify_shop.shop_id, {"points_per_unit": "2", "expiry_days": "365"}
        )
    r = await client.get("/api/v1/program", headers=shopify_shop.auth)
    body = r.json()
    assert body["version"] == 3
    assert body["document"]["expiry_days"] == 365
    rules = {rule["key"]: rule for rule in body["document"]["rules"]}
    assert (rules["purchase"]["points"], rules["purchase"]["per_units"]) == (2, 1)
    assert rules["third"]["every"] == 3  # the other rules stay
