"""Planner statistics for the tables the worker fills, when PostgreSQL's autovacuum is off.

Every batch looks rows up by lists of keys (``order_id = ANY(…)``, ``owner = ANY(…)``). With
statistics, PostgreSQL turns each list into index probes; without any (autovacuum off, and so
never analyzed) it guesses from defaults, reads the shop's whole index range and filters it:
a batch of 200 orders then costs time in proportion to the shop's history, not to the batch.
Measured on a fresh database (bench/processing.py, one worker): 373–483 events/s with no
statistics, 1,284 with them.

Autovacuum is on by default and then does this itself. When an operator has turned it off,
the worker warns once and analyzes its tables: at once if they never were (a restored or
bulk-loaded database), else each time the ledger has doubled (at least ``MIN_GROWTH`` events),
counted from the size its statistics give when the worker starts. An ``ANALYZE`` of all of them
costs ~0.7 s of PostgreSQL time even on a small ledger and reads a sample of up to 30,000 pages
per table, so autovacuum's step (a tenth) would be too often; for lookups by unique keys the
distribution barely changes as a table grows, and the planner scales row counts by a table's
current size itself. (Counting from zero at each start instead had every worker started on a
million-transaction ledger analyze it after 1,000 events: 1.5–2 pages read per event of
postings, transactions and lots, measured with bench/processing.py.) ``ANALYZE`` takes no lock
that blocks reads or writes, runs beside the worker on a connection of its own, and
``SKIP_LOCKED`` lets a second worker skip a table the first is already analyzing.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy import text

from app.db import Database

log = structlog.get_logger(__name__)

MIN_GROWTH = 1000
TABLES = (
    "webhook_events",
    "orders",
    "order_refunds",
    "members",
    "accounts",
    "ledger_transactions",
    "postings",
    "point_lots",
    "lot_movements",
)

_LEDGER_ROWS = "SELECT reltuples FROM pg_class WHERE oid = 'ledger_transactions'::regclass"


class StatisticsKeeper:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._enabled: bool | None = None  # decided on first use: PostgreSQL, autovacuum off
        self._grown = 0
        self._threshold = MIN_GROWTH
        self._task: asyncio.Task[None] | None = None

    async def after_batch(self, events: int) -> None:
        """Count ``events`` just processed; analyze when the tables have grown enough."""
        if self._enabled is None:
            # Decided together, and only once both are known: a database that is not there
            # yet (a worker started before `vafa migrate`) raises, and the next batch asks again.
            enabled = await self._autovacuum_is_off()
            if enabled:
                rows = await self._ledger_rows()
                # Never analyzed (PostgreSQL's -1; e.g. restored or bulk-loaded): at once.
                self._threshold = 0 if rows < 0 else max(MIN_GROWTH, rows)
            self._enabled = enabled
        if not self._enabled:
            return
        self._grown += events
        if self._grown < self._threshold or (self._task is not None and not self._task.done()):
            return
        self._grown = 0
        # Beside the worker, on a connection of its own: batches go on while it runs.
        self._task = asyncio.create_task(self._analyze())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _analyze(self) -> None:
        try:
            async with self._db.reader.connect() as conn:  # autocommit: ANALYZE runs on its own
                await conn.execute(text(f"ANALYZE (SKIP_LOCKED) {', '.join(TABLES)}"))
                rows = await conn.scalar(text(_LEDGER_ROWS))
        except Exception:
            log.exception("analyzing the worker's tables failed; trying again later")
            return
        self._threshold = max(MIN_GROWTH, int(rows or 0))

    async def _ledger_rows(self) -> int:
        async with self._db.reader.connect() as conn:
            rows = await conn.scalar(text(_LEDGER_ROWS))
        return int(rows) if rows is not None else -1

    async def _autovacuum_is_off(self) -> bool:
        if self._db.dialect != "postgresql":
            return False
        async with self._db.reader.connect() as conn:
            setting = await conn.scalar(text("SELECT current_setting('autovacuum')"))
        if setting == "on":
            return False
        log.warning(
            "PostgreSQL's autovacuum is off: the worker analyzes its own tables as they grow, "
            "but nothing vacuums them; turn autovacuum on in production"
        )
        return True
