"""customers/redact: the member is anonymised everywhere Vafa wrote them down, their points and
the ledger's every invariant untouched."""

from __future__ import annotations

import httpx
import orjson
import pytest
from sqlalchemy import select

from app.connectors.base import OrderSnapshot, Platform
from app.connectors.registry import parse_body
from app.members.models import Member
from app.orm import utcnow
from app.privacy import service
from app.privacy.models import PrivacyRequest, RequestKind, RequestStatus
from app.state import AppState
from app.webhooks.models import WebhookEvent
from app.webhooks.processing import replay
from tests.fakes.shopify import FakeShopify
from tests.privacy.scenario import (
    EMAIL,
    OTHER_EMAIL,
    PHONE,
    balance,
    build,
    compliance,
    deliver,
    ledger_problems,
    settle,
    traces,
    vafa,
)


async def _requests(state: AppState, kind: str) -> list[PrivacyRequest]:
    async with state.db.read() as session:
        query = select(PrivacyRequest).where(PrivacyRequest.kind == kind)
        return list((await session.scalars(query.order_by(PrivacyRequest.id))).all())


class TestCustomersRedact:
    async def test_no_trace_of_the_email_anywhere_and_the_ledger_verifies(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, env: str
    ) -> None:
        s = await build(client, state, fake_shopify)
        # An earlier data request: its export holds the e-mail until the redaction.
        payload = compliance("shopify/customers-data_request.json", s.customer_id, [s.order_id])
        await deliver(client, s.shop, "customers/data_request", payload)
        await settle(state)
        assert (await _requests(state, RequestKind.EXPORT))[0].status == RequestStatus.DONE
        before = await balance(state, s.shop.shop_id, s.customer_id)
        assert before.available > 0
        assert before.lifetime_earned > 0
        seen = await traces(state, EMAIL)
        # The scan finds the e-mail where the scenario wrote it: the member, the bodies, the
        # adjustment's reason and the export.
        assert {t.split(" ")[0] for t in seen} >= {
            "members.email",
            "webhook_events.body",
            "ledger_transactions.reason",
            "privacy_requests.result",
        }

        payload = compliance("shopify/customers-redact.json", s.customer_id, [s.order_id])
        await deliver(client, s.shop, "customers/redact", payload)
        await settle(state)

        assert await traces(state, EMAIL) == []
        assert await traces(state, PHONE) == []
        assert await traces(state, OTHER_EMAIL) != []  # another member is left as they were
        assert await ledger_problems(state, s.shop.shop_id) == []
        result = vafa("ledger", "verify", "--shop", str(s.shop.shop_id))
        assert result.exit_code == 0, result.output
        assert await balance(state, s.shop.shop_id, s.customer_id) == before
        async with state.db.read() as session:
            member = await session.scalar(select(Member).where(Member.customer_id == s.customer_id))
        assert member is not None
        assert (member.email, member.first_name, member.last_name) == (None, None, None)
        redaction = (await _requests(state, RequestKind.REDACT_CUSTOMER))[0]
        assert redaction.status == RequestStatus.DONE
        assert redaction.result is not None
        assert redaction.result["webhook_bodies"] >= 4
        export = (await _requests(state, RequestKind.EXPORT))[0]
        assert (export.status, export.result) == (RequestStatus.ERASED, None)

    async def test_an_anonymised_order_replays_to_the_same_points(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        s = await build(client, state, fake_shopify)
        payload = compliance("shopify/customers-redact.json", s.customer_id, [s.order_id])
        await deliver(client, s.shop, "customers/redact", payload)
        await settle(state)
        before = await balance(state, s.shop.shop_id, s.customer_id)
        async with state.db.read() as session:
            event = await session.scalar(
                select(WebhookEvent).where(WebhookEvent.topic == "orders/paid").limit(1)
            )
        assert event is not None
        body = orjson.loads(event.body)
        assert body["email"] is None
        assert body["customer"]["email"] is None
        assert body["billing_address"]["address1"] is None
        assert body["note"] is None
        assert str(body["customer"]["id"]) == s.customer_id  # the ids stay: it still replays
        (snap,) = parse_body(Platform.SHOPIFY, "orders/paid", event.body, {})
        assert isinstance(snap, OrderSnapshot)
        assert snap.merchandise_minor == 25000

        assert await replay(state.db, shop_id=s.shop.shop_id, event_ids=[event.id]) == 1
        await settle(state)
        assert await balance(state, s.shop.shop_id, s.customer_id) == before
        assert await ledger_problems(state, s.shop.shop_id) == []

    async def test_the_admin_api_redacts_a_member_of_any_shop(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        s = await build(client, state, fake_shopify)
        r = await client.post(f"/api/v1/members/{s.customer_id}/redact", headers=s.shop.auth)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "done"
        assert r.json()["changed"]["members"] == 1
        assert await traces(state, EMAIL) == []
        assert await ledger_problems(state, s.shop.shop_id) == []
        again = await client.post(f"/api/v1/members/{s.customer_id}/redact", headers=s.shop.auth)
        assert again.status_code == 200
        assert again.json()["changed"]["webhook_bodies"] == 0
        assert again.json()["changed"]["texts"] == 0
        missing = await client.post("/api/v1/members/nobody/redact", headers=s.shop.auth)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "member_not_found"

    async def test_a_redact_body_without_a_customer_is_rejected_and_changes_nothing(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        s = await build(client, state, fake_shopify)
        await deliver(client, s.shop, "customers/redact", {"shop_id": 1, "shop_domain": "x"})
        await settle(state)
        async with state.db.read() as session:
            event = await session.scalar(
                select(WebhookEvent).where(WebhookEvent.topic == "customers/redact")
            )
        assert event is not None
        assert event.status == "rejected"
        assert event.last_error == "customers/redact.customer is missing"
        assert await _requests(state, RequestKind.REDACT_CUSTOMER) == []
        assert await traces(state, EMAIL) != []


async def test_a_request_that_keeps_failing_is_tried_each_tick_then_parked(
    client: httpx.AsyncClient,
    state: AppState,
    fake_shopify: FakeShopify,
    monkeypatch: pytest.MonkeyPatch,
    env: str,
) -> None:
    s = await build(client, state, fake_shopify)
    redact = service.redact_customer

    async def broken(*args: object) -> dict[str, int]:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(service, "redact_customer", broken)
    payload = compliance("shopify/customers-redact.json", s.customer_id, [s.order_id])
    await deliver(client, s.shop, "customers/redact", payload)
    await state.worker.drain()
    for attempt in range(1, service.MAX_ATTEMPTS + 1):
        await state.worker.run_scheduled(utcnow())
        (request,) = await _requests(state, RequestKind.REDACT_CUSTOMER)
        assert request.attempts == attempt
        assert request.last_error is not None
        assert "the disk is full" in request.last_error
    assert request.status == RequestStatus.FAILED
    await state.worker.run_scheduled(utcnow())
    assert (await _requests(state, RequestKind.REDACT_CUSTOMER))[0].attempts == service.MAX_ATTEMPTS
    listed = vafa("privacy", "requests", "--shop", str(s.shop.shop_id), "--status", "failed")
    assert listed.exit_code == 0, listed.output
    assert "the disk is full" in listed.stdout

    monkeypatch.setattr(service, "redact_customer", redact)  # the cause fixed
    retried = vafa("privacy", "retry", "--id", str(request.id))
    assert retried.exit_code == 0, retried.output
    await state.worker.run_scheduled(utcnow())
    assert (await _requests(state, RequestKind.REDACT_CUSTOMER))[0].status == RequestStatus.DONE
    assert await traces(state, EMAIL) == []
    again = vafa("privacy", "retry", "--id", str(request.id))
    assert again.exit_code == 1
    assert "is done, not failed" in again.stderr
