"""``vafa segments``: a shop's segments and their sizes, and a refresh run now."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound

segments_cli = typer.Typer(no_args_is_help=True, help="A shop's segments: list, refresh now.")
Shop = Annotated[int, typer.Option("--shop", help="the shop's id")]


async def _known(session: AsyncSession, shop_id: int) -> None:
    from app.shops.models import Shop as ShopRow

    if await session.get(ShopRow, shop_id) is None:
        raise NotFound(f"no shop {shop_id}")


@segments_cli.command("list")
def list_segments(shop: Shop) -> None:
    """Print each segment (the RFM ones, then the shop's own) with its members, one JSON
    object per line."""
    from app.cli import _emit, _run
    from app.segments import service
    from app.segments.rfm import RFM_SEGMENTS

    async def go(db: Any) -> list[dict[str, Any]]:
        async with db.read() as session:
            await _known(session, shop)
            sizes = await service.sizes(session, shop)
            refreshed = await service.last_refresh(session, shop)
            own = await service.definitions(session, shop)
        at = refreshed.isoformat() if refreshed else None
        rows = [{"key": k, "kind": "rfm", "members": sizes.get(k, 0), "refreshed_at": at}
                for k in RFM_SEGMENTS]  # fmt: skip
        rows += [{"key": d.key, "kind": "custom", "members": sizes.get(d.key, 0),
                  "refreshed_at": at} for d in own]  # fmt: skip
        return rows

    for row in _run(go):
        _emit(row)


@segments_cli.command("refresh")
def refresh(shop: Shop) -> None:
    """Recompute the shop's segments now (the worker does it daily, and after a definition
    changes); prints how many members were considered and moved, and the sizes."""
    from app.cli import _emit, _run
    from app.orm import utcnow
    from app.segments import service

    async def go(db: Any) -> service.Refreshed:
        async with db.write() as session:
            await _known(session, shop)
            return await service.refresh(session, shop, utcnow())

    done = _run(go)
    _emit({"shop_id": shop, "members": done.members, "entered": done.entered,
           "left": done.left, "sizes": done.sizes})  # fmt: skip
