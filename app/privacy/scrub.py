"""Finding a customer in a raw webhook body and anonymising them there.

A body is anonymised, not emptied: ids, amounts, lines and times stay, so an anonymised order
still replays to the same points; what identifies a person (e-mail, names, phone, addresses,
notes, the browser's address) becomes null, and any text still quoting one of the customer's
e-mail addresses or phone numbers has it replaced."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

# What stands in for an identifier found inside a longer text.
REDACTED = "[redacted]"
# Objects that describe a person: all of their values go, but for these keys.
_PERSON_OBJECTS = frozenset(
    {
        "customer",
        "billing_address",
        "shipping_address",
        "default_address",
        "addresses",
        "billing",
        "shipping",
        "client_details",
    }
)
_KEPT_IN_PERSON = frozenset(
    {
        "id",
        "customer_id",
        "admin_graphql_api_id",
        "created_at",
        "updated_at",
        "date_created",
        "date_created_gmt",
        "date_modified",
        "date_modified_gmt",
        "currency",
        "country_code",
        "province_code",
        "tax_exempt",
        "verified_email",
        "orders_count",
        "total_spent",
        "is_paying_customer",
        "role",
    }
)
# Keys that identify a person wherever they appear (an order's own e-mail, its note).
_PERSONAL_KEYS = frozenset(
    {
        "email",
        "contact_email",
        "billing_email",
        "phone",
        "first_name",
        "last_name",
        "username",
        "display_name",
        "avatar_url",
        "browser_ip",
        "customer_ip_address",
        "customer_user_agent",
        "note",
        "customer_note",
        "note_attributes",
    }
)
# Topics whose body *is* the customer (not an order naming one).
_CUSTOMER_TOPICS = ("customers/", "customer.")


@dataclass(frozen=True, slots=True)
class Person:
    """Who to look for: the platform's customer id, and what else identifies them."""

    customer_id: str
    emails: frozenset[str] = frozenset()  # lower-cased
    phones: frozenset[str] = frozenset()
    order_ids: frozenset[str] = frozenset()  # orders the platform said are theirs

    @classmethod
    def of(
        cls,
        customer_id: str,
        emails: Iterable[str | None] = (),
        phones: Iterable[str | None] = (),
        order_ids: Iterable[object] = (),
    ) -> Person:
        return cls(
            customer_id=customer_id,
            emails=frozenset(e.strip().lower() for e in emails if e and e.strip()),
            # A short "phone" would match digits anywhere (amounts, ids): only real numbers.
            phones=frozenset(p.strip() for p in phones if p and len(p.strip()) >= 7),
            order_ids=frozenset(str(o) for o in order_ids),
        )

    def texts(self) -> tuple[str, ...]:
        """The identifiers searched for inside any text."""
        return tuple(sorted(self.emails | self.phones))

    def pattern(self) -> re.Pattern[str] | None:
        texts = self.texts()
        if not texts:
            return None
        return re.compile("|".join(re.escape(t) for t in texts), re.IGNORECASE)


def might_name(body: bytes, person: Person) -> bool:
    """A cheap look at the raw bytes before decoding: False only when the body cannot name the
    person (no id, no identifier, no escaped characters that could hide one)."""
    if not body:
        return False
    lowered = body.lower()
    needles = [person.customer_id.encode(), *(t.lower().encode() for t in person.texts())]
    needles += [o.encode() for o in person.order_ids]
    return any(n in lowered for n in needles) or b"\\u" in body


def names(topic: str, document: object, person: Person) -> bool:
    """Whether a decoded body is about the person: it is their customer record, names their
    customer id, is one of their orders, or quotes one of their identifiers."""
    cid = person.customer_id
    if isinstance(document, dict):
        if topic.startswith(_CUSTOMER_TOPICS) and _same(document.get("id"), cid):
            return True
        if person.order_ids and (
            _id_in(document.get("id"), person.order_ids)
            or _id_in(document.get("order_id"), person.order_ids)
        ):
            return True
    pattern = person.pattern()
    return _walk_names(document, cid, pattern)


def _walk_names(value: object, cid: str, pattern: re.Pattern[str] | None) -> bool:
    if isinstance(value, dict):
        customer = value.get("customer")
        if isinstance(customer, dict) and _same(customer.get("id"), cid):
            return True
        if _same(value.get("customer_id"), cid):
            return True
        return any(_walk_names(v, cid, pattern) for v in value.values())
    if isinstance(value, list):
        return any(_walk_names(v, cid, pattern) for v in value)
    return isinstance(value, str) and pattern is not None and pattern.search(value) is not None


def anonymise(topic: str, document: object, person: Person) -> object:
    """The body with the person taken out (a new document; ``document`` is not changed)."""
    pattern = person.pattern()
    if isinstance(document, dict) and topic.startswith(_CUSTOMER_TOPICS):
        return _person(document, pattern)
    return _scrub(document, pattern)


def document_about(topic: str, body: bytes, person: Person) -> object | None:
    """The decoded body when it is about the person, else None. A body that is not JSON (such
    a body was rejected at intake) is its text, about them when it quotes an identifier."""
    if not might_name(body, person):
        return None
    try:
        document: object = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace")
        pattern = person.pattern()
        return text if pattern is not None and pattern.search(text) else None
    return document if names(topic, document, person) else None


def anonymised(topic: str, document: object, person: Person) -> bytes:
    """A body again, from a document :func:`document_about` gave, without the person."""
    if isinstance(document, str):
        pattern = person.pattern()
        return (pattern.sub(REDACTED, document) if pattern else document).encode()
    return orjson.dumps(anonymise(topic, document, person))


def anonymise_body(topic: str, body: bytes, person: Person) -> bytes | None:
    """The anonymised body, or None when it is not about the person."""
    document = document_about(topic, body, person)
    return None if document is None else anonymised(topic, document, person)


def _scrub(value: object, pattern: re.Pattern[str] | None) -> object:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            if key in _PERSON_OBJECTS:
                out[key] = _person(item, pattern)
            elif key in _PERSONAL_KEYS:
                out[key] = None
            else:
                out[key] = _scrub(item, pattern)
        return out
    if isinstance(value, list):
        return [_scrub(item, pattern) for item in value]
    if isinstance(value, str) and pattern is not None:
        return pattern.sub(REDACTED, value)
    return value


def _person(value: object, pattern: re.Pattern[str] | None) -> object:
    """A person's object: only the keys that say nothing about who they are survive."""
    if isinstance(value, list):
        return [_person(item, pattern) for item in value]
    if not isinstance(value, dict):
        return None
    out: dict[str, object] = {}
    for key, item in value.items():
        if isinstance(item, dict | list):
            out[key] = _person(item, pattern)
        elif key in _KEPT_IN_PERSON:
            out[key] = _scrub(item, pattern)
        else:
            out[key] = None
    return out


def _same(value: object, cid: str) -> bool:
    return value is not None and not isinstance(value, bool) and str(value) == cid


def _id_in(value: object, ids: frozenset[str]) -> bool:
    return value is not None and not isinstance(value, bool) and str(value) in ids
