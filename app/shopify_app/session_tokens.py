"""Session tokens: how the embedded admin (App Bridge) says which shop's staff is calling
(PLATFORMS.md S4).

An HS256 JWT signed with the app's client secret, living one minute: ``aud`` is the app's
client id, ``iss`` the shop's admin URL and ``dest`` the shop's URL (the same host, a
``*.myshopify.com`` one: the tenant), ``exp``/``nbf`` checked with :data:`LEEWAY_SECONDS` of
clock difference, as App Bridge often sends an ``nbf`` a little in the future.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

from app.errors import Unauthorized
from app.shopify_app.signatures import BadSignature, shop_domain

LEEWAY_SECONDS = 10
ALGORITHM = "HS256"
# Both of Shopify's libraries require these (the Python one also sid, not always sent).
REQUIRED_CLAIMS = ("iss", "dest", "aud", "sub", "exp", "nbf")


class InvalidSessionToken(Unauthorized):
    """A session token that is forged, tampered with, expired, early or for another app."""


@dataclass(frozen=True, slots=True)
class SessionToken:
    shop: str  # the myshopify domain: the tenant
    user: str  # the staff member (sub)
    expires_at: int
    claims: Mapping[str, Any]


def looks_like_jwt(value: str) -> bool:
    """Three base64url parts: a session token, not an admin API key."""
    return value.count(".") == 2 and value.startswith("ey")


def _number(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidSessionToken(f"the session token's {name} is not a time")
    return int(value)


def _host(url: object, claim: str) -> str:
    if not isinstance(url, str):
        raise InvalidSessionToken(f"the session token's {claim} is not a URL")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidSessionToken(f"the session token's {claim} is not an https URL")
    try:
        return shop_domain(parts.hostname)
    except BadSignature as exc:
        raise InvalidSessionToken(f"the session token's {claim} is not a shop") from exc


def decode(
    token: str, *, client_id: str, client_secret: str, now: float | None = None
) -> SessionToken:
    """The verified token, or :class:`InvalidSessionToken` saying what is wrong with it."""
    if not client_secret:  # an empty key verifies a token anyone can make
        raise InvalidSessionToken("session tokens are not accepted: no client secret is set")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            client_secret,
            algorithms=[ALGORITHM],  # never "none", never what the token's header asks for
            audience=client_id,
            options={
                "require": list(REQUIRED_CLAIMS),
                # The times are checked below, against ``now`` (a test's clock, or the real one).
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidAudienceError as exc:
        raise InvalidSessionToken("the session token is for another app") from exc
    except jwt.PyJWTError as exc:
        raise InvalidSessionToken(f"the session token is not valid ({exc})") from exc
    current = time.time() if now is None else now
    expires = _number(claims, "exp")
    if current > expires + LEEWAY_SECONDS:
        raise InvalidSessionToken("the session token has expired")
    if current + LEEWAY_SECONDS < _number(claims, "nbf"):
        raise InvalidSessionToken("the session token is not valid yet")
    shop = _host(claims["dest"], "dest")
    if _host(claims["iss"], "iss") != shop:
        raise InvalidSessionToken("the session token's iss and dest name different shops")
    return SessionToken(shop=shop, user=str(claims["sub"]), expires_at=expires, claims=claims)
