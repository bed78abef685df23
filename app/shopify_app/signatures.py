"""The signatures Shopify puts on the queries it sends, and the shop names it sends in them.

Two schemes over the same HMAC-SHA256 with the app's client secret, hex-encoded
(PLATFORMS.md S3, S5):

- the admin's (install request, OAuth callback, the embedded app's URL): ``hmac`` dropped, the
  rest sorted by key, ``key=value`` form-encoded (spaces as ``%20``) and joined with ``&``;
- the app proxy's: ``signature`` dropped, the rest sorted by key, a repeated key's values
  joined with ``,``, ``key=value`` *decoded* and concatenated with no separator.

Both carry a ``timestamp``: a query older (or newer) than :data:`TIMESTAMP_TOLERANCE_SECONDS`
is refused, so a captured one cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from app.errors import InvalidRequest, Unauthorized
from app.shops.service import normalize_shopify_domain

# Shopify's own library allows this much clock difference either way.
TIMESTAMP_TOLERANCE_SECONDS = 90
# Parameters that must appear once: a second value could sign one thing and mean another (the
# app proxy joins a repeated key's values, so a shopper's own `logged_in_customer_id=207119551`
# beside Shopify's empty one would be signed, and read as that customer).
_SINGLE_VALUED = frozenset({
    "hmac", "signature", "shop", "timestamp", "state", "code", "logged_in_customer_id",
    "path_prefix",
})  # fmt: skip

Query = Sequence[tuple[str, str]]


class BadSignature(Unauthorized):
    """A query whose signature, timestamp or shop does not hold: refused (401)."""


def _hex_hmac(secret: str, message: str) -> str:
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def _same(expected: str, given: str) -> bool:
    # Bytes: compare_digest raises TypeError on non-ASCII str, and the query is untrusted.
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def _form(value: str) -> str:
    # URLSearchParams' encoding (Shopify's library signs it), spaces as %20: everything but
    # letters, digits and *-._ is escaped (Python would leave ~ as it is).
    return quote(value, safe="*").replace("~", "%7E")


def _single(query: Query) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for key, value in query:
        values.setdefault(key, []).append(value)
    for key in _SINGLE_VALUED:
        if len(values.get(key, ())) > 1:
            raise BadSignature(f"the query parameter {key!r} appears more than once")
    return values


def admin_message(query: Query) -> str:
    """What the admin's ``hmac`` signs (the OAuth query: install request and callback)."""
    values = _single(query)
    pairs = [
        f"{_form(key)}={_form(value)}"
        for key in sorted(values)
        if key not in ("hmac", "signature")
        for value in values[key]
    ]
    return "&".join(pairs)


def admin_hmac(query: Query, secret: str) -> str:
    return _hex_hmac(secret, admin_message(query))


def proxy_message(query: Query) -> str:
    """What the app proxy's ``signature`` signs: values decoded, repeated ones joined by ``,``."""
    values = _single(query)
    return "".join(f"{key}={','.join(values[key])}" for key in sorted(values) if key != "signature")


def proxy_signature(query: Query, secret: str) -> str:
    return _hex_hmac(secret, proxy_message(query))


def _fresh(values: dict[str, list[str]], now: float | None) -> None:
    stamp = (values.get("timestamp") or [""])[0]
    if not stamp.isascii() or not stamp.isdigit():
        raise BadSignature("the query has no valid timestamp")
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > TIMESTAMP_TOLERANCE_SECONDS:
        raise BadSignature("the query's timestamp is too old or in the future")


def _matches(given: str, expected: Iterable[str]) -> bool:
    matched = False
    for candidate in expected:
        matched |= _same(candidate, given)
    return matched


def _secrets(secrets: Sequence[str]) -> list[str]:
    # An empty secret verifies against an empty key, which anyone can forge.
    usable = [s for s in secrets if s]
    if not usable:
        raise BadSignature("no secret to check the signature with")
    return usable


def verify_admin_query(query: Query, secrets: Sequence[str], *, now: float | None = None) -> str:
    """Check an admin query's ``hmac`` and ``timestamp``; returns its valid shop domain."""
    keys = _secrets(secrets)
    values = _single(query)
    given = (values.get("hmac") or [""])[0]
    if not given or not _matches(given, (admin_hmac(query, key) for key in keys)):
        raise BadSignature("the query's hmac is missing or wrong")
    _fresh(values, now)
    return shop_domain((values.get("shop") or [""])[0])


def verify_proxy_query(query: Query, secrets: Sequence[str], *, now: float | None = None) -> str:
    """Check an app proxy request's ``signature`` and ``timestamp``; returns its valid shop
    domain. Only after this is ``logged_in_customer_id`` to be believed (S5)."""
    keys = _secrets(secrets)
    values = _single(query)
    given = (values.get("signature") or [""])[0]
    if not given or not _matches(given, (proxy_signature(query, key) for key in keys)):
        raise BadSignature("the app proxy signature is missing or wrong")
    _fresh(values, now)
    return shop_domain((values.get("shop") or [""])[0])


def shop_domain(value: str) -> str:
    """``value`` if it is a shop's ``name.myshopify.com`` host exactly as Shopify writes it;
    anything else (another host, a scheme, a path, upper case) is refused, so no redirect or
    token request is ever sent to a host an attacker chose."""
    try:
        domain = normalize_shopify_domain(value)
    except InvalidRequest as exc:
        raise BadSignature(exc.message) from exc
    if domain != value:
        raise BadSignature(f"{value!r} is not a shop domain of the form name.myshopify.com")
    return domain
