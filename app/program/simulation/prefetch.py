"""Product groups a simulated draft needs, asked of the store before the replays start.

A replay's sandbox never calls a store (``KnownCatalog``): it judges with what the live
database knows, copied in by ``catalog.copy_groups``. When the live program matches no
collection or category, its orders record no groups and the cache may be empty, so a draft
that adds such a rule would judge every product as in no group. So before a simulation whose
draft matches groups, the products of the window's orders that have neither groups recorded
on their order nor a fresh cache entry are fetched through the worker's own catalog fetch
(outside any transaction) and kept in the cache. Only the cache is written, never the ledger.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from app.connectors.clients import StoreClients
from app.connectors.store import StoreError
from app.crypto import Vault
from app.db import Database
from app.errors import AppError
from app.program import catalog
from app.program import lines as order_lines
from app.program.catalog import Catalog, StoreCatalog
from app.program.document import ProgramDocument
from app.program.engine import Program
from app.program.models import Order
from app.program.versions import BEGINNING, Version

# Products asked of the catalog per call (it batches each call as the store allows): how often
# progress is told, and what a failure part-way leaves in the cache.
_PER_FETCH = 100
_PAGE = 500
# An order's events can arrive after the snapshot's time: orders updated up to this long
# before the window's first instant count as in it (asking for a few more costs nothing).
_LATE_DELIVERY = timedelta(days=1)


class CatalogUnavailable(AppError):
    """The draft matches collections or categories and the store could not say which of the
    window's products are in them: the simulation is not run without them."""

    status_code = 502
    code = "store_unavailable"
    example = "the store could not give the products' collections: the store answered HTTP 503"


def uses_groups(document: ProgramDocument) -> bool:
    """Whether the document's rules match products by collection, type or category."""
    return Program(Version(1, BEGINNING, document)).uses_groups


class _OnFirstFetch:
    """The stores' catalog, made when first asked: a simulation that fetches nothing needs
    neither the secret key (``vault`` may be a function that reads it) nor an HTTP client."""

    def __init__(self, db: Database, vault: Vault | Callable[[], Vault]) -> None:
        self.db = db
        self.vault = vault
        self.stores: StoreClients | None = None

    async def fetch(self, shop_id: int, product_ids: Sequence[str]) -> dict[str, list[str]]:
        if self.stores is None:
            vault = self.vault if isinstance(self.vault, Vault) else self.vault()
            self.stores = StoreClients(self.db, vault)
        return await StoreCatalog(self.stores).fetch(shop_id, product_ids)


@asynccontextmanager
async def store_catalog(db: Database, vault: Vault | Callable[[], Vault]) -> AsyncIterator[Catalog]:
    """The stores' catalog for one simulation (its HTTP client closed after)."""
    catalog = _OnFirstFetch(db, vault)
    try:
        yield catalog
    finally:
        if catalog.stores is not None:
            await catalog.stores.aclose()


async def products_to_fetch(
    db: Database, shop_id: int, start: datetime | None, now: datetime
) -> list[str]:
    """The window's orders' products whose groups are neither recorded on their order nor
    fresh in the cache, by product id."""
    wanted: set[str] = set()
    where = [Order.shop_id == shop_id]
    if start is not None:
        since = start - _LATE_DELIVERY
        when = func.coalesce(Order.source_updated_at, Order.paid_at)
        where.append(or_(when >= since, Order.paid_at >= since))
    after = 0
    async with db.read() as session:
        while True:  # a page at a time by id (the reader may hold no cursor open)
            page = (
                await session.execute(
                    select(Order.id, Order.lines, Order.product_groups)
                    .where(*where, Order.id > after)
                    .order_by(Order.id)
                    .limit(_PAGE)
                )
            ).all()
            if not page:
                break
            after = page[-1][0]
            for _, stored, recorded in page:
                products = {
                    line.product_id
                    for line in order_lines.order_lines(stored) or ()
                    if line.product_id is not None
                }
                wanted |= products - (recorded or {}).keys()
        asked = sorted(wanted)
        cached = await catalog.fresh(session, shop_id, asked, now)
    return [pid for pid in asked if pid not in cached]


async def prefetch_groups(
    db: Database,
    shop_id: int,
    draft: ProgramDocument,
    start: datetime | None,
    now: datetime,
    store: Catalog | None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Fetch and cache the groups the draft needs that the live database lacks; how many
    products were asked for (none when the draft matches no group)."""
    if not uses_groups(draft):
        return 0
    missing = await products_to_fetch(db, shop_id, start, now)
    if not missing:
        return 0
    if store is None:
        raise CatalogUnavailable(
            f"the draft matches collections or categories and {len(missing)} product(s) of the "
            "simulated orders are not known: there is no store to ask here"
        )
    if progress:
        progress(0, len(missing))
    for begin in range(0, len(missing), _PER_FETCH):
        chunk = missing[begin : begin + _PER_FETCH]
        try:
            found = await store.fetch(shop_id, chunk)
        except StoreError as exc:
            raise CatalogUnavailable(
                "the store could not give the simulated orders' products' collections or "
                f"categories, so the draft cannot be judged: {exc.message}"
            ) from exc
        async with db.write() as session:
            await catalog.store(session, shop_id, found, now)
        if progress:
            progress(begin + len(chunk), len(missing))
    return len(missing)
