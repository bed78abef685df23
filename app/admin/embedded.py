"""The admin inside the Shopify admin (an embedded app, through App Bridge).

Shopify opens the app's URL in an iframe with ``shop``, ``host``, ``embedded=1`` and
``id_token`` (the session token of app/shopify_app/session_tokens.py) in the query; Shopify's
own libraries read the token from that parameter on a page load and from ``Authorization:
Bearer`` on the app's requests. Either one, verified (the app's client secret, ``aud`` our
client id, ``iss``/``dest`` one shop, unexpired), is the session: the shop is the token's, no
password and no cookie (third-party cookies in the iframe are unreliable). Each page loads
App Bridge (``<meta name="shopify-api-key">`` and Shopify's ``app-bridge.js``), and its script
asks ``shopify.idToken()`` for a fresh token on every link followed (into the query again)
and every form sent (as the bearer header).

A session token cannot be forged by another site (it needs our secret) nor sent by a browser
on its own, so there is no cross-site request to guard against; the forms' CSRF field is kept,
derived from the shop and the staff member, so the pages and their checks stay one.

Framing: an embedded page may be framed by the shop's admin only (``frame-ancestors
https://{shop} https://admin.shopify.com``, Shopify's rule); every other admin page by nobody
(``frame-ancestors 'none'``), so the password sign-in cannot be framed by another site.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.admin.auth import AdminSession
from app.connectors.base import Platform
from app.errors import Unauthorized
from app.shopify_app import session_tokens
from app.shopify_app.config import ShopifyApp
from app.shops.models import ShopStatus
from app.state import AppState

APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
# Where the embedded request's shop is left for the framing header (request.state).
_STATE_KEY = "vafa_embedded_shop"


def _token_of(request: Request) -> str | None:
    scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and session_tokens.looks_like_jwt(value.strip()):
        return value.strip()
    if request.method == "GET":  # a page load or a link: never a form's body
        return request.query_params.get("id_token") or None
    return None


def _csrf(secret_key: str, shop_id: int, user: str) -> str:
    key = hashlib.sha256(b"vafa embedded admin csrf\x00" + secret_key.encode()).digest()
    return hmac.new(key, f"{shop_id}:{user}".encode(), hashlib.sha256).hexdigest()


async def session_of(request: Request, state: AppState) -> AdminSession | None:
    """The session a request from the embedded admin carries, None when it carries no session
    token, :class:`~app.errors.Unauthorized` when the one it carries is not good."""
    token = _token_of(request)
    if token is None:
        return None
    app = ShopifyApp.from_settings(state.settings)
    if app is None:
        raise Unauthorized("this Vafa is not a Shopify app: sign in with a password instead")
    found = session_tokens.decode(token, client_id=app.client_id, client_secret=app.client_secret)
    asked = request.query_params.get("shop")
    if asked and asked.strip().lower() != found.shop:
        raise Unauthorized("the session token is for another shop than the page asks for")
    shop = await state.shops.by_domain(Platform.SHOPIFY, found.shop)
    if shop is None or shop.status not in ShopStatus.RECEIVING:
        raise Unauthorized(f"{found.shop} has not installed Vafa")
    setattr(request.state, _STATE_KEY, found.shop)
    who = f"shopify:{found.user}"
    return AdminSession(shop.shop_id, who, _csrf(state.settings.secret_key, shop.shop_id, who))


def page_context(request: Request, state: AppState) -> dict[str, Any]:
    """What base.html needs to load App Bridge, on an embedded page only."""
    shop = getattr(request.state, _STATE_KEY, None)
    app = ShopifyApp.from_settings(state.settings)
    if shop is None or app is None:
        return {}
    return {"embedded": {"api_key": app.client_id, "app_bridge": APP_BRIDGE}}


def frame_ancestors(shop: str | None) -> str:
    if shop is None:
        return "frame-ancestors 'none'"
    return f"frame-ancestors https://{shop} https://admin.shopify.com"


class AdminFraming:
    """Every /admin answer says who may frame it (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != "/admin" and not path.startswith("/admin/"):
            await self.app(scope, receive, send)
            return

        async def framed(message: Message) -> None:
            if message["type"] == "http.response.start":
                shop = scope.get("state", {}).get(_STATE_KEY)
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = frame_ancestors(shop)
                if shop is None:  # for browsers without frame-ancestors
                    headers["X-Frame-Options"] = "DENY"
                else:  # the page's URL holds a session token: not for other sites' eyes
                    headers["Referrer-Policy"] = "same-origin"
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, framed)
