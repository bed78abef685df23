"""Webhook intake: the contract's answers, and that nothing is lost or credited wrongly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from starlette.routing import Match, Route

from app.config import Settings
from app.ledger.models import LedgerTransaction
from app.main import create_app
from app.state import AppState
from app.webhooks.endpoints import plain_routes
from app.webhooks.models import EventStatus, WebhookEvent
from tests.conftest import ShopifyShop, WooShop, fixture_bytes
from tests.payloads import dumps, woo_order
from tests.signing import shopify_headers, sign

ORDER = fixture_bytes("shopify/orders-create.json")
CUSTOMER = "1073339475"


async def _events(state: AppState) -> list[WebhookEvent]:
    async with state.db.read() as session:
        return list((await session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))).all())


async def _transactions(state: AppState) -> int:
    async with state.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(LedgerTransaction)) or 0)


class TestShopifyIntake:
    async def test_signed_order_is_stored_once_and_earns_after_processing(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        headers = shopify_shop.headers(ORDER, "orders/paid", event_id="evt-1")
        r = await client.post("/webhooks/shopify", content=ORDER, headers=headers)
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {"status": "accepted"}
        [event] = await _events(state)
        assert event.body == ORDER  # the raw bytes, exactly as signed
        assert event.status == EventStatus.PENDING

        await state.worker.drain()
        r = await client.get(f"/api/v1/members/{CUSTOMER}", headers=shopify_shop.auth)
        # 199.00 line − 17.91 discount = 181.09 merchandise → 181 points (rounded down)
        assert r.json()["points"] == {
            "available": 181,
            "pending": 0,
            "held": 0,
            "lifetime_earned": 181,
        }
        [event] = await _events(state)
        assert event.status == EventStatus.PROCESSED

    async def test_same_event_five_times_concurrently_has_one_effect(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        headers = shopify_shop.headers(ORDER, "orders/paid", event_id="evt-dup")
        answers = await asyncio.gather(
            *[client.post("/webhooks/shopify", content=ORDER, headers=headers) for _ in range(5)]
        )
        assert [a.status_code for a in answers] == [200] * 5
        statuses = sorted(a.json()["status"] for a in answers)
        assert statuses == ["accepted"] + ["duplicate"] * 4
        assert len(await _events(state)) == 1
        await state.worker.drain()
        r = await client.get(f"/api/v1/members/{CUSTOMER}", headers=shopify_shop.auth)
        assert r.json()["points"]["available"] == 181

    async def test_redelivery_with_new_event_id_posts_nothing_new(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        for event_id in ("evt-a", "evt-b"):  # orders/paid and orders/updated of the same state
            headers = shopify_shop.headers(ORDER, "orders/updated", event_id=event_id)
            assert (
                await client.post("/webhooks/shopify", content=ORDER, headers=headers)
            ).is_success
        await state.worker.drain()
        assert len(await _events(state)) == 2
        assert await _transactions(state) == 1

    async def test_wrong_signature_is_401_and_nothing_is_stored(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        headers = shopify_headers(
            ORDER, secret="not-the-secret", topic="orders/paid", domain=shopify_shop.domain
        )
        r = await client.post("/webhooks/shopify", content=ORDER, headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"
        assert await _events(state) == []

    async def test_tampered_body_is_401(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        headers = shopify_shop.headers(ORDER, "orders/paid")
        tampered = ORDER.replace(b'"181.09"', b'"981.09"', 1)
        r = await client.post("/webhooks/shopify", content=tampered, headers=headers)
        assert r.status_code == 401
        assert await _events(state) == []

    async def test_missing_signature_is_401(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        headers = shopify_shop.headers(ORDER, "orders/paid")
        del headers["X-Shopify-Hmac-Sha256"]
        r = await client.post("/webhooks/shopify", content=ORDER, headers=headers)
        assert r.status_code == 401
        assert await _events(state) == []

    async def test_unknown_shop_gets_the_same_answer_as_a_bad_signature(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        unknown = shopify_headers(
            ORDER, secret=shopify_shop.secret, topic="orders/paid", domain="other.myshopify.com"
        )
        bad_sig = shopify_headers(
            ORDER, secret="wrong", topic="orders/paid", domain=shopify_shop.domain
        )
        r1 = await client.post("/webhooks/shopify", content=ORDER, headers=unknown)
        r2 = await client.post("/webhooks/shopify", content=ORDER, headers=bad_sig)
        assert (r1.status_code, r1.json()) == (r2.status_code, r2.json())
        assert r1.status_code == 401
        assert await _events(state) == []

    async def test_an_unknown_shop_costs_the_same_hmac_as_a_known_one(
        self,
        client: httpx.AsyncClient,
        shopify_shop: ShopifyShop,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        import hmac

        signed: list[bytes] = []
        real_new = hmac.new

        def spy(key: bytes, msg: bytes | None = None, digestmod: object = None) -> hmac.HMAC:
            if msg == ORDER:
                signed.append(key)
            return real_new(key, msg, digestmod)  # type: ignore[arg-type]

        deliveries = [  # signed before the spy is in place: only the intake's HMACs count
            shopify_headers(ORDER, secret="wrong", topic="orders/paid", domain=domain)
            for domain in (shopify_shop.domain, "nobody.myshopify.com")
        ]
        monkeypatch.setattr(hmac, "new", spy)
        for headers in deliveries:
            r = await client.post("/webhooks/shopify", content=ORDER, headers=headers)
            assert r.status_code == 401
        # One HMAC of the body each: the known shop's secret, then a stand-in for no shop.
        assert len(signed) == 2
        assert signed[0] == shopify_shop.secret.encode()
        assert signed[1] != signed[0]

    async def test_body_over_5_mib_is_413_and_not_stored(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        huge = b'{"id": 1, "note": "' + b"x" * (5 * 1024 * 1024) + b'"}'
        r = await client.post(
            "/webhooks/shopify", content=huge, headers=shopify_shop.headers(huge, "orders/paid")
        )
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "payload_too_large"
        assert await _events(state) == []

    async def test_signed_malformed_json_is_200_kept_as_rejected_and_credits_nothing(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        broken = ORDER[: len(ORDER) // 2]
        r = await client.post(
            "/webhooks/shopify", content=broken, headers=shopify_shop.headers(broken, "orders/paid")
        )
        # A non-2xx answer to a signed delivery counts toward Shopify dropping the subscription.
        assert r.status_code == 200
        assert r.json() == {"status": "rejected"}
        [event] = await _events(state)
        assert event.status == EventStatus.REJECTED
        assert event.last_error is not None
        assert "not valid JSON" in event.last_error
        # What processing needs to replay it once the parser is fixed: the raw body, its topic.
        assert (event.body, event.topic) == (broken, "orders/paid")
        await state.worker.drain()
        assert await _transactions(state) == 0

    async def test_signed_json_that_is_not_an_order_is_200_and_rejected_with_its_reason(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        body = b'{"hello": "world"}'
        r = await client.post(
            "/webhooks/shopify", content=body, headers=shopify_shop.headers(body, "orders/paid")
        )
        assert r.status_code == 200
        assert r.json() == {"status": "rejected"}
        [event] = await _events(state)
        assert event.status == EventStatus.REJECTED
        assert event.last_error is not None
        assert "id" in event.last_error  # names the field the order lacks

    async def test_a_redelivered_rejected_body_is_stored_once(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        body = b"not json at all"
        answers = []
        for event_id in ("r-1", "r-1", "r-2"):  # Shopify's retries, then a new event id
            headers = shopify_shop.headers(body, "orders/paid", event_id=event_id)
            r = await client.post("/webhooks/shopify", content=body, headers=headers)
            answers.append((r.status_code, r.json()["status"]))
        assert answers == [(200, "rejected"), (200, "duplicate"), (200, "duplicate")]
        assert [e.status for e in await _events(state)] == [EventStatus.REJECTED]

    async def test_a_signed_delivery_without_a_topic_is_kept_as_rejected(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        headers = shopify_shop.headers(ORDER, "orders/paid")
        del headers["X-Shopify-Topic"]
        r = await client.post("/webhooks/shopify", content=ORDER, headers=headers)
        assert (r.status_code, r.json()) == (200, {"status": "rejected"})
        [event] = await _events(state)
        assert (event.status, event.last_error) == (
            EventStatus.REJECTED,
            "the delivery names no topic",
        )

    async def test_a_parser_that_crashes_still_keeps_the_delivery_and_answers_200(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        shopify_shop: ShopifyShop,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from app.connectors.shopify import ShopifyConnector

        def crash(*_: object) -> list[object]:
            raise KeyError("customer@example.com")  # a message that quotes the body

        monkeypatch.setattr(ShopifyConnector, "parse", crash)
        headers = shopify_shop.headers(ORDER, "orders/paid")
        r = await client.post("/webhooks/shopify", content=ORDER, headers=headers)
        assert (r.status_code, r.json()) == (200, {"status": "rejected"})
        [event] = await _events(state)
        assert event.status == EventStatus.REJECTED
        assert event.last_error is not None
        assert event.last_error.startswith("the parser failed: KeyError at ")
        assert "example.com" not in event.last_error

    async def test_a_rejected_delivery_is_logged_without_its_body(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        shopify_shop: ShopifyShop,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        body = b'{"id": "not-a-number", "email": "jane@example.com"}'
        r = await client.post(
            "/webhooks/shopify", content=body, headers=shopify_shop.headers(body, "orders/paid")
        )
        assert r.json() == {"status": "rejected"}
        [event] = await _events(state)
        [line] = [ln for ln in capsys.readouterr().err.splitlines() if "webhook rejected" in ln]
        assert f"event_id={event.id}" in line
        assert f"shop_id={shopify_shop.shop_id}" in line
        assert "topic=orders/paid" in line
        assert "jane@example.com" not in line
        assert "not-a-number" not in line

    async def test_unknown_topic_is_200_and_kept_as_ignored(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        body = b'{"id": 1, "title": "a product"}'
        r = await client.post(
            "/webhooks/shopify", content=body, headers=shopify_shop.headers(body, "products/create")
        )
        assert r.status_code == 200
        assert r.json() == {"status": "ignored"}
        [event] = await _events(state)
        assert event.status == EventStatus.IGNORED
        assert await state.worker.drain() == 0

    async def test_previous_secret_still_verifies_after_rotation(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        from app.shops.service import rotate_webhook_secret

        async with state.db.write() as session:
            await rotate_webhook_secret(session, state.vault, shopify_shop.shop_id, "new-secret")
        state.shops.forget()
        for secret, event_id in (("hush", "old"), ("new-secret", "new")):
            headers = shopify_headers(
                ORDER,
                secret=secret,
                topic="orders/paid",
                domain=shopify_shop.domain,
                event_id=event_id,
            )
            r = await client.post("/webhooks/shopify", content=ORDER, headers=headers)
            assert r.status_code == 200, secret
        assert len(await _events(state)) == 2


class TestWooCommerceIntake:
    async def test_creation_ping_is_200_and_stores_nothing(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        r = await client.post(
            woo_shop.webhook_url,
            content=b"webhook_id=142",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 200
        assert await _events(state) == []

    async def test_ping_for_an_unknown_shop_is_401(
        self, client: httpx.AsyncClient, woo_shop: WooShop
    ) -> None:
        r = await client.post(
            "/webhooks/woocommerce/999999",
            content=b"webhook_id=142",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 401

    async def test_signed_order_update_earns_points(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        body = dumps(woo_order(723, refunds=[]))
        r = await client.post(
            woo_shop.webhook_url, content=body, headers=woo_shop.headers(body, "order.updated")
        )
        assert r.status_code == 200, r.text
        await state.worker.drain()
        r = await client.get("/api/v1/members/26", headers=woo_shop.auth)
        # line totals 9.00 + 20.00 = 29.00 merchandise (shipping 10.00 excluded) → 29 points
        assert r.json()["points"]["available"] == 29

    async def test_redelivery_of_the_same_state_is_a_duplicate(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        body = dumps(woo_order(723, refunds=[]))
        statuses = []
        for _ in range(3):
            r = await client.post(
                woo_shop.webhook_url, content=body, headers=woo_shop.headers(body, "order.updated")
            )
            statuses.append(r.json()["status"])
        assert statuses == ["accepted", "duplicate", "duplicate"]

    async def test_signed_body_that_is_not_an_order_is_200_and_rejected(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        body = b'["an", "array"]'
        r = await client.post(
            woo_shop.webhook_url, content=body, headers=woo_shop.headers(body, "order.updated")
        )
        assert (r.status_code, r.json()) == (200, {"status": "rejected"})
        [event] = await _events(state)
        assert event.status == EventStatus.REJECTED
        assert event.last_error

    async def test_wrong_signature_is_401(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        body = dumps(woo_order(723))
        headers = woo_shop.headers(body, "order.updated")
        headers["X-WC-Webhook-Signature"] = sign(body, "guess")
        r = await client.post(woo_shop.webhook_url, content=body, headers=headers)
        assert r.status_code == 401
        assert await _events(state) == []

    async def test_a_shopify_shop_id_is_not_a_woocommerce_endpoint(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        body = dumps(woo_order(723))
        headers = {
            "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Signature": sign(body, shopify_shop.secret),
        }
        r = await client.post(
            f"/webhooks/woocommerce/{shopify_shop.shop_id}", content=body, headers=headers
        )
        assert r.status_code == 401
        assert await _events(state) == []


class TestGroupCommit:
    async def test_many_concurrent_deliveries_are_each_stored_once(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        from tests.payloads import shopify_order

        bodies = [dumps(shopify_order(7000 + i, customer_id=300 + i)) for i in range(40)]
        answers = await asyncio.gather(
            *[
                client.post(
                    "/webhooks/shopify",
                    content=body,
                    headers=shopify_shop.headers(body, "orders/paid", event_id=f"g{i % 30}"),
                )
                for i, body in enumerate(bodies)
            ]
        )
        # 40 deliveries, 30 distinct event ids: ids g0..g9 were each delivered twice
        assert [a.status_code for a in answers] == [200] * 40
        assert sorted(a.json()["status"] for a in answers).count("accepted") == 30
        events = await _events(state)
        assert len(events) == 30
        assert len({e.id for e in events}) == 30

    async def test_a_failed_write_answers_500_acknowledges_nobody_and_logs_no_secret(
        self,
        state: AppState,
        monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        from app.main import create_app
        from tests.conftest import make_shopify_shop

        secret = "s3cr3t-never-logged"
        shop = await make_shopify_shop(state, domain="quiet-shop.myshopify.com", secret=secret)

        async def broken(*_: object, **__: object) -> list[tuple[object, ...]]:
            raise ConnectionError("database unreachable")

        monkeypatch.setattr(state.db, "insert_ignore_returning", broken)
        app = create_app(state.settings, state)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://vafa.test") as c:
            answers = await asyncio.gather(
                *[
                    c.post(
                        "/webhooks/shopify",
                        content=ORDER,
                        headers=shop.headers(ORDER, "orders/paid", event_id=f"x{i}"),
                    )
                    for i in range(5)
                ]
            )
        assert [a.status_code for a in answers] == [500] * 5
        assert answers[0].json()["error"]["code"] == "internal_error"
        monkeypatch.undo()
        assert await _events(state) == []
        logged = "".join(capfd.readouterr())
        assert "request failed" in logged
        assert "database unreachable" in logged
        assert secret not in logged


class TestShopLookup:
    async def test_odd_shop_ids_are_unknown_shops(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        body = dumps(woo_order(723))
        headers = woo_shop.headers(body, "order.updated")
        for shop_id in ("²", "1" * 30, "-1", "1.0"):
            r = await client.post(f"/webhooks/woocommerce/{shop_id}", content=body, headers=headers)
            assert r.status_code == 401, shop_id
        assert await _events(state) == []

    async def test_an_inactive_shop_is_refused_everywhere(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        from sqlalchemy import update

        from app.shops.models import Shop

        async with state.db.write() as session:
            await session.execute(update(Shop).values(status="uninstalled"))
        state.shops.forget()
        body = dumps(woo_order(723))
        r = await client.post(
            woo_shop.webhook_url, content=body, headers=woo_shop.headers(body, "order.updated")
        )
        assert r.status_code == 401
        r = await client.get("/api/v1/members/26", headers=woo_shop.auth)
        assert r.status_code == 401
        r = await client.post(
            woo_shop.webhook_url,
            content=b"webhook_id=1",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 401
        assert await _events(state) == []


async def test_the_webhook_answers_are_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in ("/webhooks/shopify", "/webhooks/woocommerce/{shop_id}"):
        answer = spec["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
        assert answer["schema"] == {"$ref": "#/components/schemas/Ack"}


async def test_the_documented_webhook_endpoints_are_the_ones_served(
    client: httpx.AsyncClient,
) -> None:
    """The docs come from a FastAPI router, the requests are served by plain routes to the
    same functions: every documented operation answers as the intake does, and nothing
    else is served under /webhooks."""
    spec = (await client.get("/openapi.json")).json()
    documented = {
        (method.upper(), path.replace("{shop_id}", "7"))
        for path, operations in spec["paths"].items()
        if path.startswith("/webhooks/")
        for method in operations
    }
    assert documented == {("POST", "/webhooks/shopify"), ("POST", "/webhooks/woocommerce/7")}
    for method, path in documented:
        unsigned = await client.request(method, path, content=b"{}")
        assert unsigned.status_code == 401
        assert unsigned.json()["error"]["code"] == "unauthorized"
        wrong_method = await client.get(path)
        assert wrong_method.status_code == 405
        assert wrong_method.headers["allow"] == method
    assert (await client.post("/webhooks/other", content=b"{}")).status_code == 404


def test_the_webhooks_are_served_by_the_plain_routes(settings: Settings, state: AppState) -> None:
    app = create_app(settings, state)
    for path in ("/webhooks/shopify", "/webhooks/woocommerce/7"):
        scope = {"type": "http", "method": "POST", "path": path, "root_path": ""}
        served = next(r for r in app.router.routes if r.matches(scope)[0] == Match.FULL)
        assert type(served) is Route  # not the FastAPI route that documents it


async def _endpoint_with_a_query(request: Request, since: str) -> Response:
    return Response()


async def _endpoint_with_a_number(request: Request, n: int) -> Response:
    return Response()


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [("/x", _endpoint_with_a_query), ("/x/{n:int}", _endpoint_with_a_number)],
)
def test_an_endpoint_that_wants_more_than_the_request_cannot_be_served_plain(
    path: str, endpoint: Callable[..., Awaitable[Response]]
) -> None:
    more = APIRouter()
    more.add_api_route(path, endpoint, methods=["POST"])
    with pytest.raises(TypeError, match="cannot be served as a plain route"):
        plain_routes(more)
