"""Shopify's global ids (``gid://shopify/Customer/207119551``) and the plain ids Vafa keeps.

Webhooks carry numeric ids; Admin GraphQL speaks in GIDs. Vafa stores the numeric id as a
string, so every GraphQL call converts on the way out and on the way back.
"""

from __future__ import annotations

from app.errors import InvalidPayload

_PREFIX = "gid://shopify/"


def to_gid(kind: str, plain_id: str) -> str:
    """``("Customer", "207119551")`` → ``"gid://shopify/Customer/207119551"`` (a GID stays)."""
    if plain_id.startswith(_PREFIX):
        return plain_id
    return f"{_PREFIX}{kind}/{plain_id}"


def from_gid(gid: str) -> str:
    """``"gid://shopify/Customer/207119551"`` → ``"207119551"`` (query parameters dropped)."""
    if not gid.startswith(_PREFIX):
        raise InvalidPayload(f"{gid[:80]!r} is not a Shopify global id")
    tail = gid[len(_PREFIX) :].split("?", 1)[0]
    _, _, plain = tail.partition("/")
    if not plain:
        raise InvalidPayload(f"{gid[:80]!r} is not a Shopify global id")
    return plain
