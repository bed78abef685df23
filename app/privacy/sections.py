"""What an export holds and what a redaction clears, table by table.

Every table with a column naming the customer (``customer_id``, or the ledger's ``owner``) is
exported without being listed here: its rows come out under the table's name. A table is listed
to give its section a better name, to say that its section is one row (the profile), or to name
the personal columns a redaction sets to null. A package adds its tables with one
:func:`register` call beside the entries below (referrals: who referred whom, and the e-mail a
referral was sent to, say)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Section:
    table: str
    name: str  # the key in the export document
    single: bool = False  # one row per customer: the section is an object, not a list
    # Columns cleared (set to null) by a redaction: what identifies the person.
    personal: tuple[str, ...] = ()


_SECTIONS: dict[str, Section] = {}
# Tables never exported: privacy requests hold earlier exports (an export of exports would
# grow with every request and copy what a redaction is about to erase).
NOT_EXPORTED = frozenset({"privacy_requests"})


def register(section: Section) -> None:
    if section.table in _SECTIONS:
        raise ValueError(f"the table {section.table!r} has a privacy section already")
    _SECTIONS[section.table] = section


def section_for(table: str) -> Section:
    return _SECTIONS.get(table) or Section(table=table, name=table)


register(
    Section(
        "members",
        "profile",
        single=True,
        personal=("email", "first_name", "last_name", "birthday", "accepts_marketing"),
    )
)
register(Section("ledger_transactions", "ledger"))
register(Section("accounts", "accounts"))
register(Section("point_lots", "point_lots"))
register(Section("holds", "holds"))
register(Section("redemptions", "redemptions"))
# The buyer's contact details as hashes (app/referrals/contact.py): still about the person.
register(Section("orders", "orders", personal=("contact_keys",)))
register(
    Section("engage_members", "engagement", single=True,
            personal=("birthday_month", "birthday_day"))
)  # fmt: skip
