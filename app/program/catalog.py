"""Product groups: what a purchase rule's ``collections`` and ``categories`` match.

The platforms' order lines name a product, never its groups, so Vafa asks the store: Shopify's
collections (handle and numeric id) and product type, WooCommerce's categories (slug and id).
Each shop's answers are cached in ``product_groups`` and re-fetched once older than
:data:`FRESH_FOR` — a TTL rather than products/update webhooks: Shopify's product webhook does
not carry the product's collections (and a collection's membership can change without it), and
subscribing every shop to product topics would cost the shops that match no group an event
per product edit.

Judging runs inside the worker's batch transaction, where no network call may be made. So
:func:`fill` only reads the cache: when an order judged by a program that matches groups has a
line whose product's groups are neither recorded on the order nor fresh in the cache, it raises
:class:`CatalogNeeded`, the transaction rolls back, the caller fetches those products outside
it (:class:`StoreCatalog`), stores them with :func:`store` and applies the batch again. A fetch
that fails fails the events, which retry with the queue's backoff: an order is never judged
with groups missing. What each order was judged with is recorded on it
(``orders.product_groups``), so a replay, a refund or a simulation judges it the same way
without asking the store again. A shop whose program matches no group never gets here: its
orders record no groups, and :func:`fill` returns before any query.

Groups are kept as ``kind:value`` strings (:func:`group_key`): ``collection:summer``,
``collection:841564295``, ``type:shirts`` (a Shopify product type), ``category:hats``,
``category:15``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import FinancialState
from app.db import dialect_insert
from app.orm import table_of
from app.program import lines as order_lines
from app.program.models import Order, ProductGroups

if TYPE_CHECKING:
    from app.connectors.clients import StoreClients
    from app.program.engine import Programs
    from app.program.reconcile import OrderState

# How long the store's answer about a product is used before it is asked again.
FRESH_FOR = timedelta(hours=1)
_CHUNK = 500


def group_key(kind: str, value: str | int) -> str:
    """One group as stored and matched: ``kind:value``, the value stripped, percent-decoded
    (WooCommerce keeps non-Latin slugs encoded) and case-folded (handles and slugs are lower
    case; a product type is free text)."""
    return f"{kind}:{unquote(str(value)).strip().casefold()}"


class CatalogNeeded(Exception):
    """Judging needs these products' groups, which the shop's cache does not hold (fresh)."""

    def __init__(self, shop_id: int, product_ids: Sequence[str]) -> None:
        super().__init__(f"shop {shop_id} needs the groups of {len(product_ids)} product(s)")
        self.shop_id = shop_id
        self.product_ids = tuple(product_ids)


class Catalog(Protocol):
    """Where missing product groups come from (never called inside a transaction)."""

    async def fetch(self, shop_id: int, product_ids: Sequence[str]) -> dict[str, list[str]]:
        """Every asked product's groups (none for a product the store does not have); raises
        :class:`~app.connectors.store.StoreError` when the store cannot say."""
        ...


class StoreCatalog:
    """The shops' stores, through their connector clients."""

    def __init__(self, stores: StoreClients) -> None:
        self.stores = stores

    async def fetch(self, shop_id: int, product_ids: Sequence[str]) -> dict[str, list[str]]:
        store = await self.stores.for_shop(shop_id)
        try:
            found = await store.product_groups(product_ids)
        finally:
            await store.aclose()
        return {pid: sorted(found.get(pid, ())) for pid in product_ids}


class KnownCatalog:
    """A catalog that never calls a store (a simulation's sandbox, whose shop has no
    credentials): everything Vafa knew was copied in beforehand, so a product asked for here
    was never seen by the live worker and counts in no group."""

    async def fetch(self, shop_id: int, product_ids: Sequence[str]) -> dict[str, list[str]]:
        return {pid: [] for pid in product_ids}


def _line_products(order: OrderState) -> set[str]:
    parsed = order_lines.order_lines(order.lines) or ()
    return {line.product_id for line in parsed if line.product_id is not None}


async def fill(
    session: AsyncSession,
    shop_id: int,
    programs: Programs,
    orders: Iterable[OrderState],
    now: datetime,
) -> None:
    """Record on each order the groups of its lines' products that it does not hold yet, from
    the cache (in place; the caller saves the orders). Only orders that record groups
    (``product_groups`` not None: judged by a program that matches them) are looked at;
    raises :class:`CatalogNeeded` when the cache lacks some, or holds them stale."""
    needs: list[tuple[OrderState, set[str]]] = []
    for order in orders:
        if order.product_groups is None or order.backfilled:
            continue
        if not programs.for_order(order).uses_groups:
            continue
        missing = _line_products(order) - order.product_groups.keys()
        if missing:
            needs.append((order, missing))
    if not needs:
        return
    wanted = sorted(set().union(*(ids for _, ids in needs)))
    cached = await fresh(session, shop_id, wanted, now)
    if absent := [pid for pid in wanted if pid not in cached]:
        raise CatalogNeeded(shop_id, absent)
    for order, ids in needs:
        # A new dict: the order's saved state is compared with what was read, by value.
        recorded = dict(order.product_groups or {})
        recorded.update((pid, cached[pid]) for pid in ids)
        order.product_groups = recorded


async def fresh(
    session: AsyncSession, shop_id: int, product_ids: Sequence[str], now: datetime
) -> dict[str, list[str]]:
    """The cached groups of those products fetched within :data:`FRESH_FOR` of ``now``."""
    found: dict[str, list[str]] = {}
    since = now - FRESH_FOR
    g = ProductGroups
    for start in range(0, len(product_ids), _CHUNK):
        rows = await session.execute(
            select(g.product_id, g.groups).where(
                g.shop_id == shop_id,
                g.product_id.in_(list(product_ids[start : start + _CHUNK])),
                g.fetched_at >= since,
            )
        )
        for product_id, groups in rows:
            found[product_id] = list(groups)
    return found


async def store(
    session: AsyncSession, shop_id: int, groups: Mapping[str, Sequence[str]], now: datetime
) -> None:
    """Keep the store's answer, fetched as of ``now`` (replacing what was cached)."""
    if not groups:
        return
    dialect = session.get_bind().dialect.name
    rows = [
        {"shop_id": shop_id, "product_id": pid, "groups": sorted(found), "fetched_at": now}
        for pid, found in groups.items()
    ]
    for start in range(0, len(rows), _CHUNK):
        statement = dialect_insert(ProductGroups, dialect).values(rows[start : start + _CHUNK])
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["shop_id", "product_id"],
                set_={
                    "groups": statement.excluded.groups,
                    "fetched_at": statement.excluded.fetched_at,
                },
            )
        )


async def copy_groups(
    source: AsyncSession, target: AsyncSession, shop_id: int, now: datetime
) -> int:
    """Copy what the shop's live database knows of its product groups into a simulation's
    sandbox: the cache (fresh as of the replay's ``now``, so nothing is fetched again) and the
    groups each order was judged with, on rows of orders not yet known there (the replayed
    events make them known), so that the replay judges every order as the live worker did.
    How many orders."""
    cached = await source.execute(
        select(ProductGroups.product_id, ProductGroups.groups).where(
            ProductGroups.shop_id == shop_id
        )
    )
    await store(target, shop_id, dict(cached.tuples().all()), now)
    count, after = 0, 0
    while True:  # a page at a time by id (the reader may hold no cursor open)
        chunk = (
            await source.execute(
                select(Order.id, Order.order_id, Order.product_groups)
                .where(
                    Order.shop_id == shop_id, Order.product_groups.is_not(None), Order.id > after
                )
                .order_by(Order.id)
                .limit(_CHUNK)
            )
        ).all()
        if not chunk:
            return count
        after = chunk[-1][0]
        rows = [
            {"shop_id": shop_id, "order_id": order_id, "known": False, "exponent": 2,
             "merchandise_minor": 0, "shipping_minor": 0, "tax_minor": 0,
             "financial_state": FinancialState.PENDING.value, "cancelled": False,
             "deleted": False, "backfilled": False, "product_groups": groups}
            for _, order_id, groups in chunk
        ]  # fmt: skip
        await target.execute(insert(table_of(Order)), rows)
        count += len(rows)
