"""What a platform order says about a referral, read leniently by the connectors' parsers: an
attribute the storefront set from the referral link (``?vafa_ref=CODE``) and the buyer's
contact details as comparison keys. Nothing here ever rejects an order: a malformed attribute
or address is simply not a referral fact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from app.limits import MAX_CODE_LENGTH
from app.referrals.contact import contact_keys

# The attribute's name; Shopify hides cart attributes whose name starts with "_" at checkout.
ATTRIBUTE = "vafa_ref"
_NAMES = frozenset({ATTRIBUTE, f"_{ATTRIBUTE}"})


def _text(value: object) -> str | None:
    if not isinstance(value, str) or "\x00" in value:
        return None
    value = value.strip()
    return value if 0 < len(value) <= MAX_CODE_LENGTH else None


def code_from_attributes(items: object, name_key: str) -> str | None:
    """The ``vafa_ref`` value of a list of ``{name_key: ..., "value": ...}`` objects (Shopify
    ``note_attributes`` use ``name``, WooCommerce ``meta_data`` ``key``)."""
    if not isinstance(items, list):
        return None
    for item in items:
        if (
            isinstance(item, Mapping)
            and item.get(name_key) in _NAMES
            and (code := _text(item.get("value")))
        ):
            return code.upper()
    return None


def _str(obj: object, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None  # a JSON object is a dict
    return value if isinstance(value, str) else None


def address_parts(
    address: object, street: tuple[str, str], city: str, postcode: str, country: str
) -> list[str | None] | None:
    if not _str(address, street[0]):
        return None
    return [_str(address, k) for k in (*street, city, postcode, country)]


def keys_of(
    objects: Iterable[object],
    email_fields: tuple[str, ...],
    phone_fields: tuple[str, ...],
    addresses: Iterable[list[str | None] | None],
) -> tuple[str, ...]:
    """Contact keys from every email and phone field of ``objects`` and from ``addresses``."""
    objects = list(objects)
    return contact_keys(
        (_str(obj, f) for obj in objects for f in email_fields),
        (_str(obj, f) for obj in objects for f in phone_fields),
        (parts for parts in addresses if parts),
    )
