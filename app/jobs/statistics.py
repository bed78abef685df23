"""Planner statistics for the tables the worker fills (PostgreSQL).

Every batch looks rows up by lists of keys (``order_id IN (…)``). PostgreSQL plans those from
a table's statistics; a table analyzed while it was (nearly) empty is planned as if it still
were: the shop's whole index range is read and every row compared with the list, so a batch
costs time in proportion to the shop's history. A new install is in that state until
autovacuum's next round (up to a minute, while a first import or a backlog pours in); a server
with autovacuum off, for good. So the worker's loop looks, every ``CHECK_SECONDS``, for tables
changed since their last ``ANALYZE`` by more rows than they then held, and analyzes them beside
its batches. Autovacuum re-analyzes long before that (after a tenth), so on a settled server
the check finds nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from sqlalchemy import bindparam, text

from app.db import Database
from app.logs import log_failure

log = structlog.get_logger(__name__)

AUTOVACUUM_OFF = (
    "PostgreSQL's autovacuum is off: nothing vacuums Vafa's tables, and the worker only "
    "analyzes them when they have doubled; turn autovacuum on, or run VACUUM ANALYZE regularly"
)

CHECK_SECONDS = 5.0
# Fewer changes than this never make a plan go wrong by much (autovacuum's own floor is 50).
MIN_CHANGES = 500
# The tables the batches look rows up in by lists of keys.
TABLES = (
    "webhook_events",
    "orders",
    "order_refunds",
    "members",
    "ledger_members",
    "accounts",
    "ledger_transactions",
    "postings",
    "point_lots",
    "lot_movements",
    "jobs",
)

# Changed since the last ANALYZE (or ever: reltuples is -1 then) by more than it then held.
_STALE = text(
    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema() AND s.relname IN :tables "
    "AND s.n_mod_since_analyze >= greatest(c.reltuples, :least) ORDER BY s.relname"
).bindparams(bindparam("tables", expanding=True))


async def warn_if_autovacuum_off(db: Database) -> bool:
    """Log a warning when the PostgreSQL server runs without autovacuum; whether it did."""
    if db.dialect != "postgresql":
        return False
    async with db.reader.connect() as conn:
        setting = await conn.scalar(text("SELECT current_setting('autovacuum')"))
    if setting == "on":
        return False
    log.warning(AUTOVACUUM_OFF)
    return True


async def analyze_stale(db: Database) -> list[str]:
    """``ANALYZE`` the tables whose statistics describe less than half of what they hold;
    their names."""
    if db.dialect != "postgresql":
        return []  # SQLite's planner takes an index for a key lookup without statistics
    async with db.reader.connect() as conn:
        stale = list(await conn.scalars(_STALE, {"tables": list(TABLES), "least": MIN_CHANGES}))
        if stale:
            # SKIP_LOCKED: a table another worker (or autovacuum) is analyzing is left to it.
            await conn.execute(text(f"ANALYZE (SKIP_LOCKED) {', '.join(stale)}"))
            await conn.commit()
    if stale:
        log.info("tables analyzed", tables=stale)
    return stale


class StatisticsKeeper:
    """Runs :func:`analyze_stale` at most every ``CHECK_SECONDS``, as a task beside the loop."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._next = 0.0
        self._task: asyncio.Task[None] | None = None

    def after_turn(self) -> None:
        if self._db.dialect != "postgresql" or time.monotonic() < self._next:
            return
        if self._task is not None and not self._task.done():
            return
        self._next = time.monotonic() + CHECK_SECONDS
        self._task = asyncio.create_task(self._check())

    async def _check(self) -> None:
        try:
            await analyze_stale(self._db)
        except Exception as exc:  # the next check tries again; batches go on meanwhile
            log_failure(log, "analyzing the worker's tables failed", exc)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
