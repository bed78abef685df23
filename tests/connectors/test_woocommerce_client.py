"""The WooCommerce store client against the fake WooCommerce, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson
import pytest
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_QUERY, Client
from woocommerce.oauth import OAuth

from app.connectors.store import (
    CodeAlreadyExists,
    DiscountKind,
    DiscountSpec,
    StoreError,
    StoreNotFound,
    StoreRejected,
    StoreThrottled,
    StoreUnauthorized,
    StoreUnavailable,
)
from app.connectors.woocommerce import WooCommerceConnector
from app.connectors.woocommerce.client import WooCommerceClient, store_error
from app.connectors.woocommerce.signing import Method, oauth_query_url
from app.shops import service as shops
from app.shops.models import Shop
from app.state import AppState
from tests.fakes.server import TlsTerminator
from tests.fakes.woocommerce import API, FakeWooCommerce, woocommerce_signature

FIXTURES = Path(__file__).parent.parent / "fixtures" / "woocommerce"
WEBHOOK_SECRET = "whsecA1b2C3d4E5f6G7h8"
ENDS_AT = datetime(2027, 1, 31, 20, 30, 15, 250_000, tzinfo=UTC)
TOPICS = ("order.created", "order.updated", "order.deleted", "customer.updated")
ADDRESS = "https://vafa.example/webhooks/woocommerce/7"


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def client_for(
    store: FakeWooCommerce, http: httpx.AsyncClient, **overrides: Any
) -> WooCommerceClient:
    options: dict[str, Any] = {
        "url": store.url,
        "consumer_key": store.consumer_key,
        "consumer_secret": store.consumer_secret,
        "webhook_secret": WEBHOOK_SECRET,
        "timeout": httpx.Timeout(5.0),
    }
    return WooCommerceClient(http, **(options | overrides))


@pytest.fixture
def woo(woo_store: FakeWooCommerce, http: httpx.AsyncClient) -> WooCommerceClient:
    return client_for(woo_store, http)


@pytest.fixture
def member(woo_store: FakeWooCommerce) -> dict[str, Any]:
    return woo_store.add_customer("Sara.Ahmadi@Example.com", "Sara", "Ahmadi")


def spec(kind: DiscountKind, value: int | None = None, **changes: Any) -> DiscountSpec:
    fields: dict[str, Any] = {
        "code": "VAFA-7K2M-Q9XD",
        "title": "Vafa reward",
        "kind": kind,
        "value": value,
        "currency": "USD",
        "exponent": 2,
        "customer_id": "25",
        "customer_email": "Sara.Ahmadi@Example.com",
        "starts_at": datetime(2026, 12, 1, tzinfo=UTC),
        "ends_at": ENDS_AT,
    }
    return DiscountSpec(**(fields | changes))


def sent_body(store: FakeWooCommerce, method: str, path: str) -> Any:
    [request] = store.requests_to(method, path)
    return request.body


class TestCreateDiscount:
    async def test_amount_off_is_a_single_use_fixed_cart_coupon_for_the_members_email(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        created = await woo.create_discount(spec(DiscountKind.AMOUNT_OFF, 5000))

        coupon = woo_store.coupon("VAFA-7K2M-Q9XD")
        assert coupon is not None
        assert coupon["discount_type"] == "fixed_cart"
        assert coupon["amount"] == "50.00"
        assert coupon["email_restrictions"] == ["sara.ahmadi@example.com"]
        assert (coupon["usage_limit"], coupon["usage_limit_per_user"]) == (1, 1)
        assert coupon["date_expires_gmt"] == "2027-01-31T20:30:15"
        assert coupon["individual_use"] is True
        assert coupon["free_shipping"] is False
        # WooCommerce keeps codes lower-cased; the client reports the code as the store has it.
        assert created.code == "vafa-7k2m-q9xd"
        assert created.store_id == str(coupon["id"])
        assert created.ends_at == ENDS_AT.replace(microsecond=0)
        assert created.usage_count == 0

    async def test_amount_is_written_in_the_currencys_own_decimals(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        await woo.create_discount(
            spec(DiscountKind.AMOUNT_OFF, 500_000, currency="IRR", exponent=0)
        )
        await woo.create_discount(
            spec(DiscountKind.AMOUNT_OFF, 12_345, code="KWD-1", currency="KWD", exponent=3)
        )

        amounts = [r.body["amount"] for r in woo_store.requests_to("POST", "/coupons")]
        assert amounts == ["500000", "12.345"]

    async def test_percent_off(self, woo: WooCommerceClient, woo_store: FakeWooCommerce) -> None:
        await woo.create_discount(spec(DiscountKind.PERCENT_OFF, 15))

        coupon = woo_store.coupon("vafa-7k2m-q9xd")
        assert coupon is not None
        assert (coupon["discount_type"], coupon["amount"]) == ("percent", "15.00")
        assert coupon["product_ids"] == []

    async def test_free_shipping(self, woo: WooCommerceClient, woo_store: FakeWooCommerce) -> None:
        await woo.create_discount(spec(DiscountKind.FREE_SHIPPING))

        coupon = woo_store.coupon("vafa-7k2m-q9xd")
        assert coupon is not None
        assert coupon["free_shipping"] is True
        assert (coupon["discount_type"], coupon["amount"]) == ("fixed_cart", "0.00")

    async def test_free_product_is_one_unit_of_that_product_at_100_percent(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        await woo.create_discount(spec(DiscountKind.FREE_PRODUCT, product_id="93"))

        coupon = woo_store.coupon("vafa-7k2m-q9xd")
        assert coupon is not None
        assert (coupon["discount_type"], coupon["amount"]) == ("percent", "100.00")
        assert coupon["product_ids"] == [93]
        assert coupon["limit_usage_to_x_items"] == 1

    async def test_minimum_order_and_combining_with_other_discounts(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        await woo.create_discount(
            spec(DiscountKind.AMOUNT_OFF, 1000, min_order_minor=2000, combines=True)
        )

        coupon = woo_store.coupon("vafa-7k2m-q9xd")
        assert coupon is not None
        assert coupon["minimum_amount"] == "20.00"
        assert coupon["individual_use"] is False

    async def test_a_code_without_expiry_never_expires(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        created = await woo.create_discount(spec(DiscountKind.PERCENT_OFF, 10, ends_at=None))

        coupon = woo_store.coupon("vafa-7k2m-q9xd")
        assert coupon is not None
        assert coupon["date_expires_gmt"] is None
        assert created.ends_at is None

    async def test_a_taken_code_is_code_already_exists_whatever_its_case(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        await woo.create_discount(spec(DiscountKind.PERCENT_OFF, 10))

        with pytest.raises(CodeAlreadyExists) as caught:
            await woo.create_discount(spec(DiscountKind.PERCENT_OFF, 10))
        with pytest.raises(CodeAlreadyExists):
            await woo.create_discount(spec(DiscountKind.PERCENT_OFF, 10, code="vafa-7k2m-q9xd"))

        assert caught.value.code == "woocommerce_rest_coupon_code_already_exists"
        assert caught.value.status == 400
        assert len(woo_store.coupons) == 1

    async def test_an_email_the_store_refuses_is_store_rejected_with_its_code(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        with pytest.raises(StoreRejected) as caught:
            await woo.create_discount(
                spec(DiscountKind.PERCENT_OFF, 10, customer_email="not an email")
            )

        assert not isinstance(caught.value, CodeAlreadyExists)
        assert caught.value.code == "coupon_invalid_email_address"
        assert woo_store.coupons == []

    async def test_a_member_without_email_is_refused_before_any_request(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        with pytest.raises(StoreRejected):
            await woo.create_discount(spec(DiscountKind.PERCENT_OFF, 10, customer_email=None))
        with pytest.raises(StoreRejected):
            await woo.create_discount(spec(DiscountKind.FREE_PRODUCT, product_id=None))
        with pytest.raises(StoreRejected):
            await woo.create_discount(spec(DiscountKind.PERCENT_OFF, 101))

        assert woo_store.requests == []


class TestFindDiscount:
    async def test_finds_exactly_the_code_and_none_for_an_unknown_one(
        self, woo: WooCommerceClient
    ) -> None:
        first = await woo.create_discount(spec(DiscountKind.PERCENT_OFF, 10, code="VAFA-AB12"))
        await woo.create_discount(spec(DiscountKind.PERCENT_OFF, 10, code="VAFA-AB123"))

        found = await woo.find_discount("VAFA-AB12")

        assert found is not None
        assert (found.store_id, found.code) == (first.store_id, "vafa-ab12")
        assert found.ends_at == ENDS_AT.replace(microsecond=0)
        assert await woo.find_discount("VAFA-AB1") is None


class TestCustomers:
    async def test_set_balance_writes_both_meta_keys_and_replaces_them_on_the_next_write(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce, member: dict[str, Any]
    ) -> None:
        await woo.set_balance(str(member["id"]), 120, "silver")
        assert woo_store.meta(member["id"]) == {"vafa_points": "120", "vafa_tier": "silver"}

        await woo.set_balance(str(member["id"]), 80, None)

        assert woo_store.meta(member["id"]) == {"vafa_points": "80", "vafa_tier": ""}
        assert len(woo_store.customer(member["id"])["meta_data"]) == 2

    async def test_an_unknown_customer_is_store_not_found(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        with pytest.raises(StoreNotFound) as caught:
            await woo.set_balance("999999", 10, None)
        with pytest.raises(StoreNotFound):
            await woo.set_balance("gid://shopify/Customer/1", 10, None)

        assert caught.value.code == "woocommerce_rest_invalid_id"
        assert len(woo_store.requests) == 1  # a non-numeric id never reaches the store

    async def test_get_customer_reads_the_email_and_none_for_an_unknown_id(
        self, woo: WooCommerceClient, member: dict[str, Any]
    ) -> None:
        customer = await woo.get_customer(str(member["id"]))

        assert customer is not None
        assert customer.customer_id == str(member["id"])
        assert customer.email == "sara.ahmadi@example.com"
        assert (customer.first_name, customer.last_name) == ("Sara", "Ahmadi")
        assert await woo.get_customer("999999") is None


class TestFromShop:
    async def test_a_shop_added_with_the_stores_keys_talks_to_it_with_its_own_secret(
        self,
        state: AppState,
        woo_store: FakeWooCommerce,
        http: httpx.AsyncClient,
        member: dict[str, Any],
    ) -> None:
        async with state.db.write() as session:
            new = await shops.add_woocommerce(
                session,
                state.vault,
                url=woo_store.url,
                consumer_key=woo_store.consumer_key,
                consumer_secret=woo_store.consumer_secret,
            )
            shop = await session.get(Shop, new.shop_id)
            assert shop is not None
            assert shop.api_url is not None
            url, credentials = shop.api_url, state.vault.open(shop.credentials)
        woo = WooCommerceClient.from_credentials(http, url=url, credentials=credentials)

        [hook] = await woo.ensure_webhooks(ADDRESS, ["order.updated"])

        assert woo_store.webhook_secret(hook.store_id) == new.webhook_secret
        customer = await woo.get_customer(str(member["id"]))
        assert customer is not None
        assert customer.email == "sara.ahmadi@example.com"


class TestAuthentication:
    async def test_over_plain_http_every_request_is_oauth_signed_with_hmac_sha256(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce, member: dict[str, Any]
    ) -> None:
        await woo.get_customer(str(member["id"]))
        await woo.set_balance(str(member["id"]), 5, None)

        assert [r.auth for r in woo_store.requests] == ["oauth", "oauth"]
        assert [r.status for r in woo_store.requests] == [200, 200]
        for request in woo_store.requests:
            assert request.query["oauth_signature_method"] == "HMAC-SHA256"
            assert "oauth_body_hash" not in request.query  # WooCommerce signs no body

    async def test_signature_matches_the_woocommerce_packages_own(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        await woo.find_discount("VAFA 50 off")
        async for _ in woo.orders_modified_since(datetime(2026, 12, 1, 9, 30, tzinfo=UTC)):
            pass

        for request in woo_store.requests:
            params = dict(request.query)
            signature = params.pop("oauth_signature")
            oracle = OAuth(
                woo_store.url, woo_store.consumer_key, woo_store.consumer_secret, method="GET"
            )
            assert oracle.generate_oauth_signature(params, woo_store.url + request.path) == (
                signature
            )

    def test_signed_url_matches_the_algorithm_of_platforms_w2(self) -> None:
        url = "http://shop.example/wp-json/wc/v3/orders?modified_after=2026-12-01T09%3A30%3A00"
        signed = oauth_query_url("PUT", url, "ck_abc", "cs_def")

        params = dict(parse_qsl(urlsplit(signed).query))
        expected = woocommerce_signature(
            "PUT", "http://shop.example/wp-json/wc/v3/orders", params, "cs_def"
        )
        assert params["oauth_signature"] == expected
        assert params["modified_after"] == "2026-12-01T09:30:00"
        assert oauth_query_url("PUT", url, "ck_abc", "cs_def") != signed  # a fresh nonce each

    async def test_a_wrong_secret_is_unauthorized_and_changes_nothing(
        self, woo_store: FakeWooCommerce, http: httpx.AsyncClient
    ) -> None:
        woo = client_for(woo_store, http, consumer_secret="cs_" + "0" * 40)

        with pytest.raises(StoreUnauthorized) as caught:
            await woo.create_discount(spec(DiscountKind.PERCENT_OFF, 10))

        assert caught.value.code == "woocommerce_rest_authentication_error"
        assert caught.value.status == 401
        assert woo_store.coupons == []

    async def test_an_unknown_key_is_unauthorized(
        self, woo_store: FakeWooCommerce, http: httpx.AsyncClient
    ) -> None:
        woo = client_for(woo_store, http, consumer_key="ck_" + "1" * 40)

        with pytest.raises(StoreUnauthorized):
            await woo.find_discount("VAFA-1")

    async def test_a_read_only_key_reads_but_cannot_write(
        self, woo_store: FakeWooCommerce, http: httpx.AsyncClient
    ) -> None:
        woo_store.add_key("ck_readonly", "cs_readonly", "read")
        woo = client_for(woo_store, http, consumer_key="ck_readonly", consumer_secret="cs_readonly")

        assert await woo.find_discount("VAFA-1") is None
        with pytest.raises(StoreUnauthorized):
            await woo.create_discount(spec(DiscountKind.PERCENT_OFF, 10))

    async def test_an_https_store_gets_basic_auth_and_no_signature(
        self, member: dict[str, Any]
    ) -> None:
        with FakeWooCommerce(https_mode=True, public_url="https://shop.example") as store:
            transport = TlsTerminator("https://shop.example", store.url)
            async with httpx.AsyncClient(transport=transport) as http:
                woo = client_for(store, http, url="https://shop.example")
                await woo.create_discount(spec(DiscountKind.PERCENT_OFF, 10))

                bad = client_for(store, http, url="https://shop.example", consumer_secret="cs_x")
                with pytest.raises(StoreUnauthorized) as caught:
                    await bad.find_discount("VAFA-1")

            [created, refused] = store.requests
            assert (created.auth, created.status) == ("basic", 201)
            assert not any(name.startswith("oauth_") for name in created.query)
            assert refused.status == 401
            assert "Consumer secret is invalid." in caught.value.message
            assert len(store.coupons) == 1


def signed(store: FakeWooCommerce, method: Method, path: str) -> str:
    return oauth_query_url(
        method, store.url + API + path, store.consumer_key, store.consumer_secret
    )


class TestFakeStoreValidation:
    """What the fake refuses, in WordPress's shapes, so that the client's tests can fail."""

    @pytest.mark.parametrize(
        ("body", "code", "param"),
        [
            ({"amount": "10"}, "rest_missing_callback_param", None),
            (
                {"code": "x", "discount_type": "percent_product"},
                "rest_invalid_param",
                "discount_type",
            ),
            ({"code": "x", "amount": 10}, "rest_invalid_param", "amount"),
            ({"code": "x", "usage_limit": "1"}, "rest_invalid_param", "usage_limit"),
            ({"code": "x", "email_restrictions": ["a@b"]}, "coupon_invalid_email_address", None),
        ],
    )
    async def test_a_bad_coupon_is_refused_with_wordpress_error_body(
        self,
        woo_store: FakeWooCommerce,
        http: httpx.AsyncClient,
        body: dict[str, Any],
        code: str,
        param: str | None,
    ) -> None:
        response = await http.post(signed(woo_store, "POST", "/coupons"), json=body)

        assert response.status_code == 400
        error = response.json()
        assert (error["code"], error["data"]["status"]) == (code, 400)
        assert error["message"]
        if param is not None:
            assert param in error["data"]["params"]
        assert woo_store.coupons == []

    async def test_list_headers_count_every_match(
        self, woo_store: FakeWooCommerce, http: httpx.AsyncClient
    ) -> None:
        add_orders(woo_store)

        response = await http.get(signed(woo_store, "GET", "/orders?per_page=3&page=2"))

        assert (response.headers["X-WP-Total"], response.headers["X-WP-TotalPages"]) == ("7", "3")
        assert len(response.json()) == 3
        assert 'rel="next"' in response.headers["Link"]


class TestFakeStoreAuthentication:
    """What the fake refuses, so that the client's tests above can fail."""

    async def test_basic_auth_over_plain_http_is_ignored(
        self, woo_store: FakeWooCommerce, http: httpx.AsyncClient
    ) -> None:
        response = await http.get(
            woo_store.url + API + "/coupons",
            auth=(woo_store.consumer_key, woo_store.consumer_secret),
        )

        assert response.status_code == 401
        assert response.json()["code"] == "woocommerce_rest_cannot_view"

    async def test_a_nonce_is_accepted_once(
        self, woo_store: FakeWooCommerce, http: httpx.AsyncClient
    ) -> None:
        url = oauth_query_url(
            "GET",
            woo_store.url + API + "/coupons",
            woo_store.consumer_key,
            woo_store.consumer_secret,
        )

        first, again = await http.get(url), await http.get(url)

        assert first.status_code == 200
        assert again.status_code == 401
        assert again.json()["message"] == "Invalid nonce - nonce has already been used."

    @pytest.mark.parametrize(("skew", "status"), [(-16 * 60, 401), (16 * 60, 401), (-14 * 60, 200)])
    async def test_timestamps_outside_15_minutes_are_refused(
        self, woo_store: FakeWooCommerce, http: httpx.AsyncClient, skew: int, status: int
    ) -> None:
        signer = Client(
            woo_store.consumer_key,
            client_secret=woo_store.consumer_secret,
            signature_method=SIGNATURE_HMAC_SHA256,
            signature_type=SIGNATURE_TYPE_QUERY,
            timestamp=str(int(time.time()) + skew),
        )
        url, _, _ = signer.sign(woo_store.url + API + "/coupons", http_method="GET")

        response = await http.get(url)

        assert response.status_code == status

    async def test_a_tampered_query_breaks_the_signature(
        self, woo_store: FakeWooCommerce, http: httpx.AsyncClient
    ) -> None:
        url = oauth_query_url(
            "GET",
            woo_store.url + API + "/coupons?code=vafa-1",
            woo_store.consumer_key,
            woo_store.consumer_secret,
        )

        response = await http.get(url.replace("code=vafa-1", "code=vafa-2"))

        assert response.status_code == 401
        assert "signature does not match" in response.json()["message"]


class TestFailures:
    async def test_a_503_is_store_unavailable_and_the_retry_creates_one_code(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        woo_store.fail_next(2, status=503)

        for _ in range(2):
            with pytest.raises(StoreUnavailable) as caught:
                await woo.create_discount(spec(DiscountKind.PERCENT_OFF, 10))
            assert caught.value.status == 503
        await woo.create_discount(spec(DiscountKind.PERCENT_OFF, 10))

        assert len(woo_store.coupons) == 1

    async def test_a_429_is_throttled_for_the_seconds_retry_after_says(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        woo_store.throttle_next(retry_after="7")

        with pytest.raises(StoreThrottled) as caught:
            await woo.find_discount("VAFA-1")

        assert caught.value.retry_after == 7.0
        assert caught.value.status == 429

    async def test_a_retry_after_given_as_a_date(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        woo_store.throttle_next(
            retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
        )

        with pytest.raises(StoreThrottled) as caught:
            await woo.find_discount("VAFA-1")

        assert 25 <= caught.value.retry_after <= 30

    async def test_a_store_slower_than_the_timeout_is_unavailable(
        self, woo_store: FakeWooCommerce, http: httpx.AsyncClient
    ) -> None:
        woo = client_for(woo_store, http, timeout=httpx.Timeout(0.2))
        woo_store.delay_next(1.0)

        with pytest.raises(StoreUnavailable):
            await woo.find_discount("VAFA-1")

    async def test_a_store_that_cannot_be_reached_is_unavailable(
        self, http: httpx.AsyncClient
    ) -> None:
        with FakeWooCommerce() as gone:
            url = gone.url
        woo = WooCommerceClient(
            http, url=url, consumer_key="ck", consumer_secret="cs", webhook_secret="s"
        )

        with pytest.raises(StoreUnavailable):
            await woo.find_discount("VAFA-1")

    async def test_a_url_without_the_rest_api_is_not_found_even_for_a_customer(
        self, woo_store: FakeWooCommerce, http: httpx.AsyncClient
    ) -> None:
        woo = client_for(woo_store, http, url=woo_store.url + "/shop")

        with pytest.raises(StoreNotFound) as caught:
            await woo.get_customer("25")

        assert caught.value.code == "rest_no_route"


class TestErrorMapping:
    @pytest.mark.parametrize(
        ("status", "body", "expected"),
        [
            (400, {"code": "woocommerce_rest_coupon_code_already_exists"}, CodeAlreadyExists),
            (400, {"code": "rest_invalid_param"}, StoreRejected),
            (401, {"code": "woocommerce_rest_authentication_error"}, StoreUnauthorized),
            (403, {"code": "woocommerce_rest_cannot_edit"}, StoreUnauthorized),
            (400, {"code": "woocommerce_rest_invalid_id"}, StoreNotFound),
            (404, load("error-wp-rest-no-route.json"), StoreNotFound),
            (404, load("error-wc-term-invalid.json"), StoreNotFound),
            (500, {"code": "internal_server_error"}, StoreUnavailable),
            (502, None, StoreUnavailable),
            (429, None, StoreThrottled),
            (301, None, StoreRejected),
        ],
    )
    def test_wordpress_answers_become_typed_errors(
        self, status: int, body: dict[str, Any] | None, expected: type[StoreError]
    ) -> None:
        content = orjson.dumps(body) if body is not None else b"<html>Bad Gateway</html>"
        error = store_error(httpx.Response(status, content=content), "GET /coupons")

        assert type(error) is expected
        assert error.status == status
        if body is not None:
            assert error.code == body["code"]

    def test_the_message_names_the_call_and_the_stores_reason(self) -> None:
        body = load("error-wp-rest-no-route.json")
        error = store_error(httpx.Response(404, json=body), "GET /customers/25")

        assert "GET /customers/25" in error.message
        assert body["message"] in error.message


class TestWebhooks:
    async def test_ensure_twice_leaves_one_active_subscription_per_topic(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        first = await woo.ensure_webhooks(ADDRESS, TOPICS)
        second = await woo.ensure_webhooks(ADDRESS, TOPICS)

        hooks = woo_store.webhooks
        assert sorted(h["topic"] for h in hooks) == sorted(TOPICS)
        assert all(h["status"] == "active" and h["delivery_url"] == ADDRESS for h in hooks)
        assert all(woo_store.webhook_secret(h["id"]) == WEBHOOK_SECRET for h in hooks)
        assert first == second
        assert [w.topic for w in second] == list(TOPICS)
        assert all(w.active for w in second)
        assert len(woo_store.requests_to("POST", "/webhooks")) == len(TOPICS)

    async def test_a_webhook_the_store_disabled_is_re_enabled_with_the_shops_secret(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        created = {w.topic: w for w in await woo.ensure_webhooks(ADDRESS, TOPICS)}
        disabled = created["order.updated"].store_id
        woo_store.disable_webhook(disabled)

        again = await woo.ensure_webhooks(ADDRESS, TOPICS)

        assert all(w.active for w in again)
        assert {h["id"]: h["status"] for h in woo_store.webhooks}[int(disabled)] == "active"
        assert len(woo_store.webhooks) == len(TOPICS)
        assert woo_store.webhook_secret(disabled) == WEBHOOK_SECRET
        assert len(woo_store.requests_to("PUT", f"/webhooks/{disabled}")) == 1

    async def test_a_webhook_the_owner_paused_stays_paused(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        paused = woo_store.add_webhook("order.updated", ADDRESS, status="paused")

        [hook] = await woo.ensure_webhooks(ADDRESS, ["order.updated"])

        assert (hook.store_id, hook.active) == (str(paused["id"]), False)
        assert [h["status"] for h in woo_store.webhooks] == ["paused"]

    async def test_duplicates_are_removed_and_other_addresses_left_alone(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        other = woo_store.add_webhook("order.updated", "https://elsewhere.example/hook")
        woo_store.add_webhook("order.updated", ADDRESS, status="disabled")
        kept = woo_store.add_webhook("order.updated", ADDRESS)

        [hook] = await woo.ensure_webhooks(ADDRESS, ["order.updated"])

        assert hook.store_id == str(kept["id"])
        assert sorted(h["id"] for h in woo_store.webhooks) == sorted([other["id"], kept["id"]])

    async def test_list_webhooks_reads_every_page(
        self, woo_store: FakeWooCommerce, http: httpx.AsyncClient
    ) -> None:
        for i in range(5):
            woo_store.add_webhook("order.updated", f"https://h{i}.example/hook")
        woo = client_for(woo_store, http, page_size=2)

        hooks = await woo.list_webhooks()

        assert sorted(h.address for h in hooks) == [f"https://h{i}.example/hook" for i in range(5)]
        assert len(woo_store.requests_to("GET", "/webhooks")) == 3

    async def test_a_topic_the_store_does_not_know_is_rejected(
        self, woo: WooCommerceClient
    ) -> None:
        with pytest.raises(StoreRejected) as caught:
            await woo.ensure_webhooks(ADDRESS, ["order.paid"])

        assert caught.value.code == "woocommerce_rest_webhook_invalid_topic"


SINCE = datetime(2026, 12, 1, 9, 30, 0, 500_000, tzinfo=UTC)


def add_orders(store: FakeWooCommerce) -> None:
    """Orders 1–5 modified from 09:30:00 on (the first in the same second as SINCE), two
    before."""
    template = load("order.json")
    for order_id, minute in [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4), (6, -1), (7, -30)]:
        order = template | {"id": order_id, "number": str(order_id), "customer_id": 20 + order_id}
        store.add_order(
            order, modified=datetime(2026, 12, 1, 9, 30, tzinfo=UTC) + timedelta(minutes=minute)
        )


class TestOrdersModifiedSince:
    async def test_pages_through_the_orders_changed_since_and_parses_them_as_webhooks_do(
        self, woo_store: FakeWooCommerce, http: httpx.AsyncClient
    ) -> None:
        add_orders(woo_store)
        woo = client_for(woo_store, http, page_size=2)

        pages = [page async for page in woo.orders_modified_since(SINCE)]

        assert [[o.order_id for o in page] for page in pages] == [["1", "2"], ["3", "4"], ["5"]]
        webhook = WooCommerceConnector()
        for snapshot in (o for page in pages for o in page):
            [expected] = webhook.parse("order.updated", woo_store.order(snapshot.order_id), {})
            assert snapshot == expected
        first = pages[0][0]
        assert (first.customer_id, first.merchandise_minor, first.currency) == ("21", 1800, "USD")
        assert first.updated_at == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
        requests = woo_store.requests_to("GET", "/orders")
        assert [r.query["page"] for r in requests] == ["1", "2", "3"]
        assert all(r.query["dates_are_gmt"] == "true" for r in requests)
        assert all(r.query["modified_after"] == "2026-12-01T09:29:59" for r in requests)

    async def test_no_orders_is_one_empty_page(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        pages = [page async for page in woo.orders_modified_since(SINCE)]

        assert pages == [[]]

    async def test_an_order_that_cannot_be_parsed_does_not_stop_the_others(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        add_orders(woo_store)
        woo_store.add_order(
            load("order.json") | {"id": 8, "currency": "dollars"},
            modified=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        )

        orders = [o.order_id async for page in woo.orders_modified_since(SINCE) for o in page]

        assert orders == ["1", "2", "3", "4", "5"]

    async def test_a_naive_time_is_refused(self, woo: WooCommerceClient) -> None:
        with pytest.raises(ValueError, match="timezone"):
            async for _ in woo.orders_modified_since(datetime(2026, 12, 1)):  # noqa: DTZ001
                pass


class TestFakeStoreDeliveries:
    """The fake's webhook deliveries, which later tests and the demo send to Vafa."""

    @staticmethod
    def receiver(status: int, seen: list[httpx.Request]) -> httpx.AsyncClient:
        def answer(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(status)

        return httpx.AsyncClient(transport=httpx.MockTransport(answer))

    async def test_a_delivery_is_signed_so_that_vafas_connector_accepts_it(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        await woo.ensure_webhooks(ADDRESS, TOPICS)
        woo_store.add_order(load("order.json") | {"id": 41, "customer_id": 25})
        seen: list[httpx.Request] = []

        async with self.receiver(200, seen) as http:
            [delivery] = await woo_store.deliver("order.updated", 41, http=http)

        [request] = seen
        assert str(request.url) == ADDRESS
        assert request.headers["X-WC-Webhook-Topic"] == "order.updated"
        connector = WooCommerceConnector()
        signature = request.headers["X-WC-Webhook-Signature"]
        assert connector.verify_signature(request.content, signature, [WEBHOOK_SECRET])
        assert b"\\/" in request.content  # slashes escaped, as wp_json_encode writes them
        [snapshot] = connector.parse("order.updated", orjson.loads(request.content), {})
        assert snapshot == snapshot_of(woo_store, 41)
        assert delivery.status == 200

    async def test_failed_deliveries_disable_the_webhook_until_ensure_re_enables_it(
        self, woo: WooCommerceClient, woo_store: FakeWooCommerce
    ) -> None:
        [hook] = await woo.ensure_webhooks(ADDRESS, ["order.updated"])
        woo_store.add_order(load("order.json") | {"id": 41})
        seen: list[httpx.Request] = []

        async with self.receiver(500, seen) as http:
            for _ in range(7):
                await woo_store.deliver("order.updated", 41, http=http)
            assert await woo_store.deliver("order.updated", 41, http=http) == []

        assert len(seen) == 7
        assert [h["status"] for h in woo_store.webhooks] == ["disabled"]
        [again] = await woo.ensure_webhooks(ADDRESS, ["order.updated"])
        assert (again.store_id, again.active) == (hook.store_id, True)


def snapshot_of(store: FakeWooCommerce, order_id: int) -> Any:
    [snapshot] = WooCommerceConnector().parse("order.updated", store.order(order_id), {})
    return snapshot
