"""The fake Shopify holds to Shopify's contract on its own, whatever client calls it: later
tests rely on it refusing what Shopify refuses, in Shopify's shapes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes.shopify import CLIENT_ID, CLIENT_SECRET, DEFAULT_TOKEN, FakeShopify

CREATE = """
mutation Create($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}
"""


async def _post(
    fake: FakeShopify, query: str, variables: dict[str, Any], token: str = DEFAULT_TOKEN
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=fake.base_url, timeout=5) as http:
        return await http.post(
            "/admin/api/2026-10/graphql.json",
            json={"query": query, "variables": variables},
            headers={"X-Shopify-Access-Token": token},
        )


class TestFakeShopify:
    async def test_missing_required_inputs_are_blank_user_errors(
        self, fake_shopify: FakeShopify
    ) -> None:
        answer = (await _post(fake_shopify, CREATE, {"input": {"code": "X1"}})).json()
        payload = answer["data"]["discountCodeBasicCreate"]
        assert payload["codeDiscountNode"] is None
        fields = {tuple(e["field"]): e["code"] for e in payload["userErrors"]}
        assert fields[("basicCodeDiscount", "title")] == "BLANK"
        assert fields[("basicCodeDiscount", "startsAt")] == "BLANK"
        assert fields[("basicCodeDiscount", "context")] == "BLANK"
        assert fields[("basicCodeDiscount", "customerGets")] == "BLANK"
        assert answer["extensions"]["cost"]["requestedQueryCost"] == 10
        assert fake_shopify.discounts == {}

    async def test_a_variable_of_the_wrong_type_is_a_top_level_error(
        self, fake_shopify: FakeShopify
    ) -> None:
        answer = (await _post(fake_shopify, CREATE, {"input": {"usageLimit": "one"}})).json()
        assert answer.get("data") is None
        assert "usageLimit" in answer["errors"][0]["message"]

    async def test_an_unknown_or_expired_token_is_401(self, fake_shopify: FakeShopify) -> None:
        assert (await _post(fake_shopify, CREATE, {"input": {}}, token="nope")).status_code == 401
        async with httpx.AsyncClient(base_url=fake_shopify.base_url) as http:
            grant = await http.post(
                "/admin/oauth/access_token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                },
            )
        token = grant.json()["access_token"]
        assert grant.json()["expires_in"] > 0
        assert (await _post(fake_shopify, CREATE, {"input": {}}, token=token)).status_code == 200
        fake_shopify.expire_tokens()
        assert (await _post(fake_shopify, CREATE, {"input": {}}, token=token)).status_code == 401

    @pytest.mark.parametrize("status", [200, 429])
    async def test_an_empty_bucket_throttles_in_shopifys_shape(
        self, fake_shopify: FakeShopify, status: int
    ) -> None:
        fake_shopify.throttle_status = status
        fake_shopify.set_bucket(available=3, restore_rate=1)
        response = await _post(fake_shopify, CREATE, {"input": {}})
        assert response.status_code == status
        answer = response.json()
        assert answer["errors"][0]["extensions"]["code"] == "THROTTLED"
        cost = answer["extensions"]["cost"]
        assert cost["requestedQueryCost"] == 10
        assert cost["actualQueryCost"] is None
        assert 3 <= cost["throttleStatus"]["currentlyAvailable"] < 4
        assert cost["throttleStatus"]["restoreRate"] == 1

    async def test_injected_failures_come_in_order(self, fake_shopify: FakeShopify) -> None:
        fake_shopify.fail_next(1, status=500)
        fake_shopify.fail_next(1, status=429, retry_after=2)
        first = await _post(fake_shopify, CREATE, {"input": {}})
        second = await _post(fake_shopify, CREATE, {"input": {}})
        third = await _post(fake_shopify, CREATE, {"input": {}})
        assert (first.status_code, second.status_code, third.status_code) == (500, 429, 200)
        assert second.headers["Retry-After"] == "2.0"
        assert [r.status for r in fake_shopify.requests] == [500, 429, 200]
