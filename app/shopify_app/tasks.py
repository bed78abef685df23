"""The first backfill of an installed shop: app.sync's ``orders.backfill`` job (one piece of
code for every platform), over the 60 days of orders Shopify lets an app read without
read_all_orders, up to the install."""

from __future__ import annotations

from app.sync.tasks import BACKFILL, enqueue_backfill

BACKFILL_DAYS = 60

__all__ = ["BACKFILL", "BACKFILL_DAYS", "enqueue_backfill"]
