"""The tables a privacy request reaches, read from the ORM's metadata, so that a table added
later is covered without a change here: every table that carries ``shop_id`` is deleted with
its shop, searched for a redacted customer's identifiers, and (when a column names the
customer) exported and anonymised with them."""

from __future__ import annotations

from sqlalchemy import JSON, String, Table
from sqlalchemy.sql.schema import Column

from app.models import Base  # every model, imported: the metadata is complete

# Columns that hold a platform customer id (the ledger calls it the owner).
CUSTOMER_COLUMNS = ("customer_id", "owner")


def shop_tables() -> list[Table]:
    """Every table with a ``shop_id`` column, children before the tables they refer to (the
    order rows can be deleted in), ``shops`` itself last."""
    ordered = [t for t in reversed(Base.metadata.sorted_tables) if "shop_id" in t.c]
    shops = Base.metadata.tables["shops"]
    return [*ordered, shops]


def customer_column(table: Table) -> Column[str] | None:
    """The column of ``table`` naming a customer, if it has one."""
    for name in CUSTOMER_COLUMNS:
        if name in table.c and isinstance(table.c[name].type, String):
            return table.c[name]
    return None


def customer_tables() -> list[Table]:
    """The shop tables with a row per customer (or per customer and something)."""
    return [t for t in shop_tables() if t.name != "shops" and customer_column(t) is not None]


def text_columns(table: Table) -> list[Column[object]]:
    """Columns a person's identifier could be written into: text and JSON (bytes are the raw
    webhook bodies', which are read and anonymised as documents)."""
    return [c for c in table.c if isinstance(c.type, String | JSON)]
