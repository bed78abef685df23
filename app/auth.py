"""The admin API's bearer credential names its shop, so every query that follows is scoped to
it: the shop's admin API key (server to server), or, from the embedded admin in Shopify, a
session token signed with the Shopify app's client secret (app/shopify_app/session_tokens.py).

The credential is checked by the admin routes themselves before any of the body is read
(:class:`app.api.routing.AdminRoute`); ``bearer`` only documents the scheme in OpenAPI.
"""

from __future__ import annotations

from fastapi.security import HTTPBearer

from app.connectors.base import Platform
from app.errors import Unauthorized
from app.shopify_app import session_tokens
from app.shopify_app.config import ShopifyApp
from app.shops.models import ShopStatus
from app.shops.service import ShopContext, ShopDirectory

bearer = HTTPBearer(
    scheme_name="AdminKey",
    description="The shop's admin API key (`vafa_sk_…`), shown once by `vafa shop add-…`; or, "
    "from the embedded admin in Shopify, a session token from App Bridge.",
    auto_error=False,
)


async def authenticate(
    shops: ShopDirectory, authorization: str | None, shopify_app: ShopifyApp | None = None
) -> ShopContext:
    """The shop whose admin API key, or session token, the ``Authorization`` header carries."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("send the shop's admin API key as 'Authorization: Bearer <key>'")
    if shopify_app is not None and session_tokens.looks_like_jwt(key.strip()):
        return await _by_session_token(shops, key.strip(), shopify_app)
    shop = await shops.by_admin_key(key.strip())
    if shop is None:
        raise Unauthorized("the admin API key is not valid")
    return shop


async def _by_session_token(shops: ShopDirectory, token: str, app: ShopifyApp) -> ShopContext:
    session = session_tokens.decode(token, client_id=app.client_id, client_secret=app.client_secret)
    shop = await shops.by_domain(Platform.SHOPIFY, session.shop)
    if shop is None or shop.status not in ShopStatus.RECEIVING:
        raise Unauthorized(f"{session.shop} has not installed Vafa")
    return shop
