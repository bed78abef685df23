"""Orders read back from the store, fed through the same reconciliation webhooks go through
(:func:`app.webhooks.apply.apply_batch`): the reconciliation sweep, which makes good a lost
webhook, and the backfill of past orders. The ledger's idempotency keys make an order read
again, or one whose webhook did arrive, post nothing new."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.connectors.base import OrderSnapshot
from app.connectors.clients import StoreClients
from app.db import Database, insert_ignore
from app.orm import table_of, utcnow
from app.program import catalog as program_catalog
from app.program import reconcile
from app.program.catalog import Catalog, CatalogNeeded, StoreCatalog
from app.shops.models import Shop
from app.shops.service import ShopContext
from app.sync.models import StoreSync
from app.webhooks.apply import Parsed, apply_batch

_FETCHES = 5  # rounds of "apply, find product groups missing, fetch them" for one page


async def import_orders(
    db: Database,
    shop: ShopContext,
    snapshots: Sequence[OrderSnapshot],
    now: datetime,
    *,
    award: bool = True,
    catalog: Catalog | None = None,
) -> None:
    """Apply one page of orders in one transaction. ``award=False`` (a backfill without
    ``--award``): an order Vafa did not know yet is recorded without earning points, ever, so
    that a later refund of it takes none back; an order it knew is reconciled as usual. The
    product groups a program matches that the cache lacks are fetched from ``catalog`` between
    two attempts (never inside the transaction); a store that cannot say fails the job."""
    if not snapshots:
        return
    for _ in range(_FETCHES):
        try:
            await _import_page(db, shop, snapshots, now, award)
            return
        except CatalogNeeded as need:
            if catalog is None:
                raise
            found = await catalog.fetch(need.shop_id, need.product_ids)
            async with db.write() as session:
                await program_catalog.store(session, need.shop_id, found, now)
    raise RuntimeError("product groups were still missing after fetching them")


async def _import_page(
    db: Database, shop: ShopContext, snapshots: Sequence[OrderSnapshot], now: datetime, award: bool
) -> None:
    async with db.write() as session:
        if not award:
            orders = await reconcile.lock_orders(
                session, shop.shop_id, {s.order_id for s in snapshots}
            )
            for order in orders.values():
                if not order.known:
                    order.backfilled = True
            await reconcile.save_orders(session, shop.shop_id, list(orders.values()))
        batch = [Parsed(i, [snapshot]) for i, snapshot in enumerate(snapshots)]
        await apply_batch(session, shop.shop_id, shop.settings, batch, now)


async def import_since(
    db: Database,
    stores: StoreClients,
    shop: ShopContext,
    since: datetime,
    *,
    award: bool = True,
    until: datetime | None = None,
) -> AsyncIterator[list[OrderSnapshot]]:
    """Import every order the store changed after ``since`` (and not after ``until``), a page
    at a time; yields each page once it is applied."""
    store = await stores.for_shop(shop.shop_id)
    catalog = StoreCatalog(stores)
    try:
        async for page in store.orders_modified_since(since):
            if until is not None:
                page = [order for order in page if order.updated_at <= until]
            await import_orders(db, shop, page, utcnow(), award=award, catalog=catalog)
            yield page
    finally:
        await store.aclose()


async def sweep(db: Database, stores: StoreClients, shop: ShopContext, overlap: timedelta) -> int:
    """One reconciliation sweep: the orders changed since the last one (less the overlap);
    moves the shop's cursor to the newest change read. Returns how many orders it read."""
    started = utcnow()
    async with db.read() as session:
        cursor = await session.scalar(
            select(StoreSync.orders_cursor).where(StoreSync.shop_id == shop.shop_id)
        )
        if cursor is None:  # the first sweep: from when the shop was added (before: backfill)
            cursor = await session.scalar(select(Shop.created_at).where(Shop.id == shop.shop_id))
    since = (cursor or started) - overlap
    newest, count = cursor, 0
    async for page in import_since(db, stores, shop, since):
        count += len(page)
        for snapshot in page:
            if newest is None or snapshot.updated_at > newest:
                newest = snapshot.updated_at
    await _save_cursor(db, shop.shop_id, newest, utcnow())
    return count


async def _note(db: Database, shop_id: int, **values: object) -> None:
    """Set some of the shop's ``store_sync`` columns (its row made the first time)."""
    async with db.write() as session:
        await session.execute(
            insert_ignore(table_of(StoreSync), session.get_bind().dialect.name),
            [{"shop_id": shop_id}],
        )
        await session.execute(update(StoreSync).where(StoreSync.shop_id == shop_id).values(values))


async def _save_cursor(db: Database, shop_id: int, cursor: datetime | None, at: datetime) -> None:
    await _note(db, shop_id, orders_cursor=cursor, swept_at=at)


async def note_backfill(
    db: Database, shop_id: int, *, imported: int, finished_at: datetime | None
) -> None:
    await _note(db, shop_id, backfill_imported=imported, backfill_finished_at=finished_at)


async def backfill_progress(db: Database, shop_id: int) -> tuple[int | None, datetime | None]:
    """Orders the first backfill imported so far, and when it finished."""
    async with db.read() as session:
        row = (
            await session.execute(
                select(StoreSync.backfill_imported, StoreSync.backfill_finished_at).where(
                    StoreSync.shop_id == shop_id
                )
            )
        ).first()
    return (row[0], row[1]) if row else (None, None)


async def last_swept(db: Database, shop_id: int) -> datetime | None:
    """When the shop's last sweep ended; before its first, when the shop was added."""
    async with db.read() as session:
        swept: datetime | None = await session.scalar(
            select(StoreSync.swept_at).where(StoreSync.shop_id == shop_id)
        )
        if swept is None:
            swept = await session.scalar(select(Shop.created_at).where(Shop.id == shop_id))
    return swept
