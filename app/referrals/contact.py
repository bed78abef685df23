"""Comparison keys for a person's contact details, so a referral can be checked against its
advocate (same email, phone or address) without Vafa keeping the details themselves.

A key is ``kind:hash`` of the normalised value: ``email``, ``phone``, ``address`` and
``domain`` (the email's domain, checked against the disposable list by hash). The connectors
compute them while parsing an order, so what leaves the parser carries no contact details
(a snapshot's repr may reach a traceback). Normalising:

- email: case; ``+tag`` dropped; Gmail's dots dropped, ``googlemail.com`` read as ``gmail.com``;
- phone: digits only, the last 10 (``+98 912 …`` and ``0912 …`` are the same number);
- address: street, city, postcode and country, case and punctuation folded.

The hash is SHA-256 under a fixed label; a webhook's parser holds no secret to key it with.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

from app.referrals.disposable import DOMAINS

EMAIL, PHONE, ADDRESS, DOMAIN = "email", "phone", "address", "domain"
_GMAIL = frozenset({"gmail.com", "googlemail.com"})
_MIN_PHONE_DIGITS = 7
_PHONE_DIGITS = 10
_NON_WORD = re.compile(r"[\W_]+")


def _hash(kind: str, value: str) -> str:
    digest = hashlib.sha256(f"vafa referral contact\x00{kind}\x00{value}".encode()).hexdigest()
    return f"{kind}:{digest[:32]}"


def normal_email(email: str) -> tuple[str, str] | None:
    """(address, domain), normalised; None for what is not an address."""
    local, at, domain = email.strip().lower().rpartition("@")
    if not at or not local or "." not in domain:
        return None
    local = local.split("+", 1)[0]
    if domain in _GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return (f"{local}@{domain}", domain) if local else None


def email_keys(email: str | None) -> set[str]:
    found = normal_email(email) if email else None
    if found is None:
        return set()
    address, domain = found
    # The domain and its parents: mail at x.mailinator.com is mailinator's.
    return {_hash(EMAIL, address), *(_hash(DOMAIN, d) for d in _parents(domain))}


def phone_key(phone: str | None) -> str | None:
    digits = "".join(filter(str.isdigit, phone or ""))
    return _hash(PHONE, digits[-_PHONE_DIGITS:]) if len(digits) >= _MIN_PHONE_DIGITS else None


def address_key(parts: Iterable[str | None]) -> str | None:
    """``parts``: street lines, city, postcode, country (the caller gives None for an address
    without a street line: a city alone is shared by many)."""
    words = [
        _NON_WORD.sub(" ", unicodedata.normalize("NFKC", part).casefold()).strip()
        for part in parts
        if part
    ]
    words = [w for w in words if w]
    return _hash(ADDRESS, "|".join(words)) if words else None


def contact_keys(
    emails: Iterable[str | None],
    phones: Iterable[str | None],
    addresses: Iterable[Iterable[str | None]],
) -> tuple[str, ...]:
    # An order names the same person several times (its email and its customer's, the same
    # shipping and billing address): each distinct value is normalised and hashed once.
    keys: set[str] = set()
    for email in dict.fromkeys(emails):
        keys |= email_keys(email)
    keys.update(k for phone in dict.fromkeys(phones) if (k := phone_key(phone)))
    distinct = dict.fromkeys(tuple(parts) for parts in addresses)
    keys.update(k for parts in distinct if (k := address_key(parts)))
    return tuple(sorted(keys))


def _parents(domain: str) -> list[str]:
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


# The disposable domains as the keys orders store.
DISPOSABLE_KEYS = frozenset(_hash(DOMAIN, d) for d in DOMAINS)


def is_disposable(keys: Iterable[str]) -> bool:
    return not DISPOSABLE_KEYS.isdisjoint(keys)
