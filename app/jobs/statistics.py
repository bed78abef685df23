"""Planner statistics are autovacuum's job: the worker only warns when it is off.

Every batch looks rows up by lists of keys (``order_id = ANY(…)``); without statistics
PostgreSQL plans those from defaults and scans a shop's whole index range. Autovacuum (on by
default, and in production) keeps them; a server with it off needs an operator's ``ANALYZE``.
"""

from __future__ import annotations

import structlog
from sqlalchemy import text

from app.db import Database

log = structlog.get_logger(__name__)

AUTOVACUUM_OFF = (
    "PostgreSQL's autovacuum is off: nothing vacuums or analyzes Vafa's tables, and lookups "
    "slow down as they grow; turn autovacuum on, or run VACUUM ANALYZE regularly"
)


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
