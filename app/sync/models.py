from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType, UTCDateTime


class StoreSync(Base):
    """Where the reconciliation sweep of one shop stands."""

    __tablename__ = "store_sync"

    shop_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    # The newest ``updated_at`` (the store's clock) of the orders the last sweep read; the
    # next one asks from a little before it (the overlap), so nothing committed late is missed.
    orders_cursor: Mapped[datetime | None] = mapped_column(UTCDateTime)
    swept_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when the last sweep ended
    # The first backfill (queued when a store is connected): orders imported so far, and when
    # it finished (None: not run, or still running).
    backfill_imported: Mapped[int | None] = mapped_column(Integer)
    backfill_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
