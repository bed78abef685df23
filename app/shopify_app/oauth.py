"""Getting a shop's offline access token (PLATFORMS.md S3): the authorization-code grant, whose
state nonce rides in a signed cookie, and token exchange, which trades the embedded app's
session token for the same kind of token without a redirect.

Offline tokens that do not expire (``expiring=0``): the shop's credentials then hold a fixed
token, as for a shop added with ``--access-token``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from app.crypto import random_token
from app.errors import AppError, Unauthorized
from app.shopify_app.config import CALLBACK_PATH, SCOPES, ShopifyApp

STATE_COOKIE = "vafa_shopify_state"
# The store owner has this long to approve the grant screen.
STATE_LIFETIME_SECONDS = 600
TOKEN_PATH = "/admin/oauth/access_token"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"
HTTP_TIMEOUT_SECONDS = 10.0


class BadState(Unauthorized):
    """The callback's ``state`` is not the one this browser was given (or it has expired)."""


class ShopifyRefused(Unauthorized):
    """Shopify would not give a token for that code or session token."""


class ShopifyUnavailable(AppError):
    status_code = 502
    code = "shopify_unavailable"
    example = "Shopify's token endpoint could not be reached; try installing again"


@dataclass(frozen=True, slots=True)
class Grant:
    access_token: str = field(repr=False)  # never in a log line or traceback
    scopes: frozenset[str]


# -- the state nonce, in a cookie signed with the client secret ---------------------------


def _state_mac(app: ShopifyApp, payload: str) -> str:
    key = app.client_secret.encode("utf-8")
    return hmac.new(key, b"vafa-oauth-state:" + payload.encode(), hashlib.sha256).hexdigest()


def new_state(app: ShopifyApp, shop: str, *, now: float | None = None) -> tuple[str, str]:
    """A fresh nonce for ``shop``'s grant and the cookie value that carries it."""
    nonce = random_token(16)
    expires = int((time.time() if now is None else now) + STATE_LIFETIME_SECONDS)
    payload = f"{nonce}:{shop}:{expires}"
    return nonce, f"{payload}:{_state_mac(app, payload)}"


def check_state(
    app: ShopifyApp, cookie: str | None, state: str, shop: str, *, now: float | None = None
) -> None:
    """The callback's ``state`` is the nonce of the signed, unexpired cookie made for ``shop``."""
    payload, _, mac = (cookie or "").rpartition(":")
    if not payload or not hmac.compare_digest(
        _state_mac(app, payload).encode(), mac.encode("utf-8", "replace")
    ):
        raise BadState("the install was not started from this browser (no valid state cookie)")
    nonce, cookie_shop, expires = payload.split(":")
    if int(expires) < (time.time() if now is None else now):
        raise BadState("the install took too long: start it again")
    same_nonce = hmac.compare_digest(nonce.encode(), state.encode("utf-8", "replace"))
    if not same_nonce or cookie_shop != shop:
        raise BadState("the callback's state is not the one this install was started with")


def authorize_url(app: ShopifyApp, shop: str, nonce: str) -> str:
    """The grant screen for an offline token (no ``grant_options[]=per-user``)."""
    query = urlencode(
        {
            "client_id": app.client_id,
            "scope": ",".join(SCOPES),
            "redirect_uri": app.url(CALLBACK_PATH),
            "state": nonce,
        }
    )
    return f"{app.admin_url(shop)}/admin/oauth/authorize?{query}"


# -- the token endpoint -------------------------------------------------------------------


def implied(scopes: frozenset[str]) -> frozenset[str]:
    """``scopes`` with what each implies: Shopify grants ``read_x`` with ``write_x`` and may
    list only the latter."""
    return scopes | {"read_" + s.removeprefix("write_") for s in scopes if s.startswith("write_")}


async def _token_request(app: ShopifyApp, shop: str, body: dict[str, str]) -> Grant:
    url = app.admin_url(shop) + TOKEN_PATH
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
            response = await http.post(url, json=body, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise ShopifyUnavailable(
            f"Shopify's token endpoint could not be reached ({type(exc).__name__}); try again"
        ) from exc
    if response.status_code in (400, 401, 403):
        raise ShopifyRefused(
            f"Shopify refused to give {shop} a token (HTTP {response.status_code}): "
            "start the install again"
        )
    if response.status_code != 200:
        raise ShopifyUnavailable(f"Shopify's token endpoint answered HTTP {response.status_code}")
    return _grant(response.content)


def _grant(content: bytes) -> Grant:
    try:
        answer: Any = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise ShopifyUnavailable("Shopify's token endpoint answered something not JSON") from exc
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise ShopifyUnavailable("Shopify's token endpoint answered without an access_token")
    scope = answer.get("scope")
    granted = {s.strip() for s in scope.split(",")} if isinstance(scope, str) else set()
    return Grant(token, frozenset(s for s in granted if s))


async def exchange_code(app: ShopifyApp, shop: str, code: str) -> Grant:
    """The authorization code for the shop's offline token (it can be used once)."""
    body = {"client_id": app.client_id, "client_secret": app.client_secret, "code": code}
    return await _token_request(app, shop, body)


async def exchange_session_token(app: ShopifyApp, shop: str, session_token: str) -> Grant:
    """The embedded app's session token for the shop's offline token."""
    body = {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": session_token,
        "subject_token_type": ID_TOKEN,
        "requested_token_type": OFFLINE_TOKEN,
        "expiring": "0",
    }
    return await _token_request(app, shop, body)


def missing_scopes(grant: Grant) -> list[str]:
    return sorted(set(SCOPES) - implied(grant.scopes))
