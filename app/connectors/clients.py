"""The store clients of one process: one shared HTTP client, and a client per shop built from
its sealed credentials when a job needs it.

A client is built per use (a read of the shop row and a decryption): credentials rotated by
``vafa shop`` commands or a renewed Shopify token are then always the current ones, and
nothing per shop is kept in memory but each Shopify shop's cost bucket, which its concurrent
jobs share (bounded: a shop gone from it starts again from the next answer's figures)."""

from __future__ import annotations

import math

import httpx
from sqlalchemy import select

from app.connectors.base import Platform
from app.connectors.shopify.client import client_for_shop
from app.connectors.shopify.throttle import CostBucket
from app.connectors.store import StoreClient, StoreError
from app.connectors.woocommerce.client import WooCommerceClient
from app.crypto import Vault
from app.db import Database
from app.program.settings import ProgramSettings
from app.shops.cache import ExpiringLRU
from app.shops.models import Shop

# Generous for a store under load, short enough that a job's lease outlives a hung call.
TIMEOUT = httpx.Timeout(20.0, connect=5.0)


class StoreClients:
    def __init__(self, db: Database, vault: Vault, http: httpx.AsyncClient | None = None) -> None:
        self._db = db
        self._vault = vault
        self._http = http
        self._owns_http = http is None
        self._buckets: ExpiringLRU[int, CostBucket] = ExpiringLRU(1024)

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:  # made on first use: a process that calls no store opens none
            # HTTP/2 where the store offers it (ALPN over TLS: Shopify does): one connection
            # carries the concurrent jobs' calls. Plain-HTTP stores get HTTP/1.1 as before.
            self._http = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, http2=True)
        return self._http

    async def for_shop(self, shop_id: int) -> StoreClient:
        async with self._db.read() as session:
            shop = await session.scalar(select(Shop).where(Shop.id == shop_id))
        if shop is None:
            raise StoreError(f"shop {shop_id} does not exist")
        if shop.platform == Platform.SHOPIFY:
            return client_for_shop(
                self.http, self._db, self._vault, shop, bucket=self._bucket(shop.id)
            )
        if shop.platform == Platform.WOOCOMMERCE:
            return WooCommerceClient.from_credentials(
                self.http,
                url=shop.api_url or shop.domain,
                credentials=self._vault.open(shop.credentials),
                exponents=ProgramSettings.from_json(shop.settings).currency_exponents,
            )
        raise StoreError(f"shop {shop_id} is on an unknown platform")

    def _bucket(self, shop_id: int) -> CostBucket:
        hit = self._buckets.get(shop_id, 0.0)
        if hit is not None:
            return hit[1]
        bucket = CostBucket()
        self._buckets.put(shop_id, bucket, math.inf)
        return bucket

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None
