"""Who is asking: a shopper of one shop, signed in or a guest.

- Shopify: the request came through the shop's app proxy, whose query Shopify signs with the
  app's secret (PLATFORMS.md S5); ``logged_in_customer_id`` is believed only after the
  signature and the ±90 s timestamp check (app.shopify_app.signatures).
- WooCommerce: the companion plugin signs an HS256 token for the logged-in customer with the
  shop's storefront secret (claims ``sub``, ``iat``, ``exp``, at most 15 minutes); no token is a
  guest.

Every refusal is the same 401 whatever failed, so a caller learns nothing about other shops.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import jwt
from starlette.requests import Request

from app.connectors.base import Platform
from app.errors import Unauthorized
from app.shopify_app.signatures import BadSignature, verify_proxy_query
from app.shops.models import ShopStatus
from app.shops.service import ShopContext
from app.state import AppState

# The contract: a plugin token expires at most 15 minutes after it was issued; one claiming
# longer is not the plugin's.
MAX_TOKEN_LIFETIME = 15 * 60
# Clocks of the store and of Vafa may differ a little.
LEEWAY_SECONDS = 10
_REFUSED = "the storefront request is not signed for this shop"
# An unknown shop's query is checked against this (no one has it): the same HMAC work as a
# known shop's, so the time an answer takes does not tell which shops exist.
_NOBODYS_SECRET = secrets.token_hex(32)


@dataclass(frozen=True, slots=True)
class Shopper:
    shop: ShopContext
    customer_id: str | None  # None: a guest

    @property
    def signed_in(self) -> bool:
        return self.customer_id is not None


class SignInRequired(Unauthorized):
    code = "sign_in_required"
    example = "sign in to see your points"


def _receiving(shop: ShopContext | None) -> ShopContext:
    if shop is None or shop.status not in ShopStatus.RECEIVING:
        raise Unauthorized(_REFUSED)
    return shop


def _customer_id(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 20:
        raise Unauthorized(_REFUSED)
    return value


async def from_app_proxy(state: AppState, request: Request) -> Shopper:
    query = list(request.query_params.multi_items())
    domain = request.query_params.get("shop", "")
    found = await state.shops.by_domain(Platform.SHOPIFY, domain)
    try:
        verify_proxy_query(query, found.webhook_secrets if found else [_NOBODYS_SECRET])
    except BadSignature as exc:
        raise Unauthorized(_REFUSED) from exc
    shop = _receiving(found)
    # Believed only now, and only once in the query (a repeated one is refused above).
    return Shopper(shop, _customer_id(request.query_params.get("logged_in_customer_id", "")))


async def from_token(state: AppState, shop_id: int, authorization: str | None) -> Shopper:
    shop = _receiving(await state.shops.by_id(shop_id))
    if shop.platform != Platform.WOOCOMMERCE:
        raise Unauthorized(_REFUSED)
    if not authorization:
        return Shopper(shop, None)
    scheme, _, token = authorization.partition(" ")
    secret = shop.storefront_secret
    if scheme.lower() != "bearer" or not token or not secret:
        raise Unauthorized(_REFUSED)
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "iat", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(_REFUSED) from exc
    issued, expires = claims["iat"], claims["exp"]
    if not isinstance(issued, int) or not isinstance(expires, int):
        raise Unauthorized(_REFUSED)
    if expires - issued > MAX_TOKEN_LIFETIME:
        raise Unauthorized(_REFUSED)
    customer = _customer_id(str(claims["sub"]))
    if customer is None:
        raise Unauthorized(_REFUSED)
    return Shopper(shop, customer)
