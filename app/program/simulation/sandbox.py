"""A throwaway database for one replay: a temp-file SQLite database created from the app's
metadata, holding a copy of one shop (without its credentials), the program it is to run and
the shop's stored events, which the worker's own :class:`EventProcessor` turns into a ledger.

Whatever the processing does to the live ledger (rules, tiers, badges, referrals, their hooks)
it does here in the same way, because it is the same code reading the same tables; nothing here
knows how a program is applied. The database is thrown away: no fsync (``synchronous=OFF``), and
the bodies of processed events are deleted as the replay goes, so the file stays the size of
the ledger, not of the shop's history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

import app.models  # noqa: F401  (every table in Base.metadata)
from app.config import Settings
from app.crypto import Vault, new_secret_key
from app.db import Database
from app.orm import Base, UTCDateTime, table_of
from app.program.catalog import KnownCatalog
from app.program.models import ProgramVersion
from app.shops.models import Shop, ShopStatus
from app.shops.service import ShopDirectory
from app.webhooks.models import PENDING_LITERAL, EventStatus, WebhookEvent
from app.webhooks.processing import EventProcessor

# Events read, copied and processed per turn (one transaction of the processor): more than the
# worker's batches (nobody waits for an acknowledgement here), few enough that a batch's state
# stays a few MB. From 500 to 5,000 the cost per event is the same (docs/benchmarks.md).
BATCH_EVENTS = 1000


@dataclass(frozen=True, slots=True)
class ShopCopy:
    """The shop as processing reads it: its id, platform and domain."""

    id: int
    platform: str
    domain: str
    api_url: str | None


@dataclass(frozen=True, slots=True)
class ProgramRows:
    """The program a sandbox runs: the shop's ``settings`` and its ``program_versions`` rows
    (version, effective_at, document)."""

    settings: dict[str, Any]
    versions: tuple[tuple[int, datetime, dict[str, Any]], ...]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """What processing reads of a stored event (its id orders the deliveries)."""

    id: int
    topic: str
    body: bytes


def _throwaway_pragmas(engine: AsyncEngine) -> None:
    # Runs after the app's own connect hook (registered first), so these win.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB
        cursor.close()


class Sandbox:
    """One throwaway shop database; :meth:`create` it, :meth:`add` events, :meth:`process`."""

    def __init__(self, db: Database, shop_id: int, batch: int) -> None:
        self.db = db
        self.shop_id = shop_id
        # A key of its own: the copy holds no credentials, only an empty sealed object.
        vault = Vault(new_secret_key())
        self.vault = vault
        settings = Settings(
            database_url=db.url,
            secret_key=new_secret_key(),
            worker_batch_size=batch,
            worker_max_attempts=1,  # an event that fails would fail again: parked at once
            worker_in_process=False,
        )
        # No store is asked: the product groups Vafa knew are copied in (copy_groups).
        self.processor = EventProcessor(
            db, ShopDirectory(db, vault, ttl=1e9), settings, KnownCatalog()
        )
        self.batch = batch
        self.statuses: Counter[str] = Counter()

    @classmethod
    async def create(
        cls, path: Path, shop: ShopCopy, program: ProgramRows, batch: int = BATCH_EVENTS
    ) -> Sandbox:
        db = Database(f"sqlite+aiosqlite:///{path}", pool_size=2, max_overflow=0)
        _throwaway_pragmas(db.writer)
        _throwaway_pragmas(db.reader)
        sandbox = cls(db, shop.id, batch)
        async with db.writer.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with db.write() as session:
            session.add(
                Shop(
                    id=shop.id,
                    platform=shop.platform,
                    domain=shop.domain,
                    api_url=shop.api_url,
                    credentials=sandbox.vault.seal({}),
                    admin_key_hash="",
                    settings=program.settings,
                    status=ShopStatus.ACTIVE,
                )
            )
            await session.flush()
            for version, effective_at, document in program.versions:
                session.add(
                    ProgramVersion(
                        shop_id=shop.id,
                        version=version,
                        effective_at=effective_at,
                        document=document,
                    )
                )
        return sandbox

    async def add(self, events: Sequence[StoredEvent], received_at: datetime) -> None:
        """Queue ``events`` (in delivery order) as pending, as intake stored them. Straight to
        the driver: per row, SQLAlchemy's parameter handling cost more than the insert."""
        if not events:
            return
        table = table_of(WebhookEvent)
        columns = ("id", "shop_id", "topic", "dedupe_key", "status", "body", "headers",
                   "received_at", "attempts")  # fmt: skip
        when = UTCDateTime().process_bind_param(received_at, self.db.writer.dialect)
        statement = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        pending = EventStatus.PENDING
        rows = [
            (e.id, self.shop_id, e.topic, f"replay:{e.id}", pending, e.body, "{}", when, 0)
            for e in events
        ]
        async with self.db.connect() as conn:
            await conn.exec_driver_sql(statement, rows)

    async def process(self, now: datetime) -> int:
        """Process every pending event as the worker would at ``now``; how many."""
        total = 0
        while (count := await self.processor.run_once(now, self.batch)) > 0:
            total += count
        await self._forget_processed()
        return total

    async def _forget_processed(self) -> None:
        """Count the settled events by status, then drop them (their bodies are most of the
        file, and nothing reads them again)."""
        table = table_of(WebhookEvent)
        async with self.db.connect() as conn:
            settled = table.c.status != PENDING_LITERAL
            rows = await conn.execute(
                select(table.c.status, func.count()).where(settled).group_by(table.c.status)
            )
            self.statuses.update({status: int(n) for status, n in rows})
            await conn.execute(delete(table).where(settled))

    async def dispose(self) -> None:
        await self.db.dispose()
