"""Migration 0010 numbers each member's orders that earn or earned, oldest payment first, and
leaves the rest unnumbered (their version is set when they are next judged)."""

from __future__ import annotations

from alembic import command

from tests.ledger.test_migration import _sql
from tests.migration_check import _config

_ORDER = (
    "INSERT INTO orders (shop_id, order_id, known, customer_id, exponent, merchandise_minor, "
    "shipping_minor, tax_minor, financial_state, cancelled, deleted, paid_at, "
    "source_updated_at, backfilled) VALUES "
)


def test_orders_that_earn_or_earned_are_numbered_per_member(empty_database: str) -> None:
    config = _config(empty_database)
    command.upgrade(config, "0009")
    t, f = ("true", "false") if empty_database.startswith("postgresql") else ("1", "0")
    rows = [
        # order, customer, state, cancelled, paid_at, backfilled
        ("o1", "'a'", "paid", f, "2025-01-02 10:00:00", f),
        ("o2", "'a'", "paid", f, "2025-01-01 10:00:00", f),
        ("o3", "'a'", "paid", t, "2025-01-03 10:00:00", f),  # cancelled, but it earned
        ("o4", "'a'", "paid", t, "2025-01-04 10:00:00", f),  # cancelled, never earned
        ("o5", "'b'", "pending", f, "2025-01-01 10:00:00", f),
        ("o6", "NULL", "paid", f, "2025-01-01 10:00:00", f),  # a guest's
        ("o7", "'a'", "paid", f, "2025-01-05 10:00:00", t),  # backfilled without points
        ("o8", "'b'", "paid", f, "2025-01-06 10:00:00", f),
    ]
    values = ", ".join(
        f"(1, '{o}', {t}, {c}, 2, 100, 0, 0, '{s}', {x}, {f}, '{p}', '{p}', {b})"
        for o, c, s, x, p, b in rows
    )
    _sql(
        empty_database,
        "INSERT INTO shops (id, platform, domain, credentials, admin_key_hash, settings, "
        "status, created_at, updated_at) VALUES (1, 'shopify', 'd', 'x', 'h', '{}', "
        "'active', '2025-01-01', '2025-01-01')",
        _ORDER + values,
        "INSERT INTO ledger_transactions (shop_id, idempotency_key, fingerprint, kind, owner, "
        "points, uncollected, source_type, source_id, order_id, reason, created_at) VALUES "
        "(1, 'order:o3:earn', 'f', 'earn', 'a', 1, 0, 'order', 'o3', 'o3', 'r', '2025-01-03')",
    )
    command.upgrade(config, "head")
    numbered = _sql(empty_database, "SELECT order_id, member_seq FROM orders ORDER BY order_id")
    assert numbered == [("o1", 2), ("o2", 1), ("o3", 3), ("o4", None), ("o5", None),
                        ("o6", None), ("o7", None), ("o8", 1)]  # fmt: skip
    command.downgrade(config, "0009")
