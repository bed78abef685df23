"""What the tenant isolation tests compare: every row one shop has, before and after another
shop's credentials were tried on every route."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.models import Base
from app.state import AppState


async def rows_of(state: AppState, shop_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that carries shop_id (and the shop's own row), for one shop."""
    seen: dict[str, list[tuple[Any, ...]]] = {}
    async with state.db.read() as session:
        for table in Base.metadata.sorted_tables:
            column = table.c.get("shop_id") if table.name != "shops" else table.c.id
            if column is None:
                continue
            rows = await session.execute(select(table).where(column == shop_id))
            seen[table.name] = sorted(tuple(r) for r in rows)
    return seen
