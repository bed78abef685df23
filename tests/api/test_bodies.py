"""The admin API checks the key before it reads a body, and reads a bounded one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from app.api.routing import MAX_BODY_BYTES
from tests.conftest import ShopifyShop

ADJUST = "/api/v1/members/9/adjustments"
CHUNK = 16 * 1024


class _Stream:
    """A request body streamed in chunks (no Content-Length), counting what the server pulls."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield b" " * CHUNK


class TestBodyLimits:
    async def test_an_unauthenticated_body_is_refused_before_any_of_it_is_read(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        body = _Stream(chunks=6400)  # 100 MiB if it were read
        for headers in [{}, {"Authorization": "Bearer vafa_sk_1_forged"}]:
            r = await client.post(
                ADJUST, content=body, headers={**headers, "content-type": "application/json"}
            )
            assert r.status_code == 401
            assert r.json()["error"]["code"] == "unauthorized"
        assert body.pulled == 0

    async def test_an_unauthenticated_declared_length_is_not_waited_for(
        self, client: httpx.AsyncClient
    ) -> None:
        r = await client.post(
            ADJUST,
            content=b"{}",
            headers={"content-type": "application/json", "content-length": str(300 << 20)},
        )
        assert r.status_code == 401

    async def test_an_authenticated_oversized_stream_is_a_413_read_no_further(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        body = _Stream(chunks=6400)
        r = await client.post(
            ADJUST, content=body, headers={**shopify_shop.auth, "content-type": "application/json"}
        )
        assert r.status_code == 413
        assert r.json()["error"] == {
            "code": "payload_too_large",
            "message": f"the body is larger than {MAX_BODY_BYTES} bytes",
        }
        assert body.pulled * CHUNK <= MAX_BODY_BYTES + CHUNK

    async def test_an_authenticated_oversized_declared_length_is_a_413_at_once(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        body = _Stream(chunks=6400)
        r = await client.post(
            ADJUST,
            content=body,
            headers={
                **shopify_shop.auth,
                "content-type": "application/json",
                "content-length": str(CHUNK * 6400),
            },
        )
        assert r.status_code == 413
        assert body.pulled == 0

    async def test_a_streamed_body_within_the_limit_is_served(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        async def body() -> AsyncIterator[bytes]:
            yield b'{"points": 5, "reason": "streamed",'
            yield b' "idempotency_key": "s1"}'

        r = await client.post(
            ADJUST,
            content=body(),
            headers={**shopify_shop.auth, "content-type": "application/json"},
        )
        assert r.status_code == 201
        assert r.json()["member"]["points"]["available"] == 5
