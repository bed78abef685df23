"""``/shopify/…``: where a store owner installs Vafa.

- ``GET /shopify/install`` (the App URL): Shopify's signed query. For the authorization-code
  grant, a redirect to the grant screen with a state nonce kept in a signed cookie; when the
  embedded admin opens it with a session token (``id_token``, Shopify managed installation),
  the token is exchanged, the shop installed at once and the store owner taken into the admin
  (``/admin``, embedded: the token is its session).
- ``GET /shopify/callback``: the grant screen's way back; the code becomes the offline token.
- ``POST /shopify/token-exchange``: the embedded app's session token (``Authorization:
  Bearer``) for the offline token, when the shop has none that works.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from app.api.deps import State
from app.api.errors import error_responses
from app.connectors.base import Platform
from app.errors import InvalidRequest, Unauthorized
from app.logs import note_shop
from app.shopify_app import oauth, service, session_tokens
from app.shopify_app.config import (
    CALLBACK_PATH,
    INSTALL_PATH,
    TOKEN_EXCHANGE_PATH,
    ShopifyApp,
    configured,
)
from app.shopify_app.signatures import BadSignature, verify_admin_query
from app.state import AppState

# (Also 503 shopify_app_not_configured, left out: the documented 503 is the busy database's.)
router = APIRouter(
    tags=["shopify app"],
    responses=error_responses(Unauthorized, InvalidRequest, oauth.ShopifyUnavailable),
)


async def shopify_app(state: State) -> ShopifyApp:
    """The app these settings make Vafa (a test points its admin URL at a fake Shopify)."""
    return configured(state.settings)


App = Annotated[ShopifyApp, Depends(shopify_app)]


class InstallOut(BaseModel):
    shop_id: int
    shop: str
    created: bool  # False: the shop was installed before (it got the new token, if any)
    exchanged: bool  # whether a new token was obtained


def _query(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _one(query: list[tuple[str, str]], name: str) -> str:
    return next((value for key, value in query if key == name), "")


async def _install(state: AppState, app: ShopifyApp, shop: str, grant: oauth.Grant) -> InstallOut:
    missing = oauth.missing_scopes(grant)
    if missing:
        raise InvalidRequest(
            f"the shop granted Vafa too little access (missing {', '.join(missing)}): "
            "install the app again"
        )
    installed = await service.install(
        state.db,
        state.vault,
        domain=shop,
        access_token=grant.access_token,
        client_secret=app.client_secret,
        api_url=app.admin_url(shop),
        sync_webhooks=app.public_url is not None,
    )
    state.wake_worker.set()  # its jobs are due now
    return InstallOut(
        shop_id=installed.shop_id, shop=shop, created=installed.created, exchanged=True
    )


async def _exchange(
    state: AppState, app: ShopifyApp, token: str, shop: str | None = None
) -> InstallOut:
    session = session_tokens.decode(token, client_id=app.client_id, client_secret=app.client_secret)
    if shop is not None and session.shop != shop:
        raise BadSignature("the session token is for another shop than the query")
    if await service.has_working_token(state.db, state.vault, session.shop):
        known = await state.shops.by_domain(Platform.SHOPIFY, session.shop)
        if known is not None:
            return InstallOut(
                shop_id=known.shop_id, shop=session.shop, created=False, exchanged=False
            )
    grant = await oauth.exchange_session_token(app, session.shop, token)
    return await _install(state, app, session.shop, grant)


@router.get(
    INSTALL_PATH, summary="Start installing Vafa on a shop (the App URL)", response_model=None
)
async def install(request: Request, state: State, app: App) -> RedirectResponse:
    query = _query(request)
    shop = verify_admin_query(query, [app.client_secret])
    if id_token := _one(query, "id_token"):
        installed = await _exchange(state, app, id_token, shop)
        note_shop(request, installed.shop_id)
        # Into the admin, embedded: the same session token is its session (app/admin/embedded.py).
        kept = ("shop", "host", "embedded", "id_token")
        admin = urlencode([(k, v) for k, v in query if k in kept])
        return RedirectResponse(f"/admin?{admin}", status_code=303)
    nonce, cookie = oauth.new_state(app, shop)
    response = RedirectResponse(oauth.authorize_url(app, shop, nonce), status_code=302)
    response.set_cookie(
        oauth.STATE_COOKIE,
        cookie,
        max_age=oauth.STATE_LIFETIME_SECONDS,
        path=CALLBACK_PATH,
        httponly=True,
        secure=app.url(CALLBACK_PATH).startswith("https://"),
        samesite="lax",  # sent on the top-level redirect back from Shopify
    )
    return response


@router.get(CALLBACK_PATH, summary="The grant screen's way back: the shop is installed")
async def callback(request: Request, state: State, app: App) -> RedirectResponse:
    query = _query(request)
    shop = verify_admin_query(query, [app.client_secret])
    oauth.check_state(app, request.cookies.get(oauth.STATE_COOKIE), _one(query, "state"), shop)
    code = _one(query, "code")
    if not code:
        raise InvalidRequest("the callback has no authorization code")
    installed = await _install(state, app, shop, await oauth.exchange_code(app, shop, code))
    note_shop(request, installed.shop_id)
    # Into the app in the shop's admin; the nonce is spent.
    response = RedirectResponse(f"{app.admin_url(shop)}/admin/apps/{app.client_id}", 302)
    response.delete_cookie(oauth.STATE_COOKIE, path=CALLBACK_PATH)
    return response


@router.post(TOKEN_EXCHANGE_PATH, summary="The embedded app's session token for the shop's token")
async def token_exchange(request: Request, state: State, app: App) -> InstallOut:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send the session token as 'Authorization: Bearer <token>'")
    installed = await _exchange(state, app, token.strip())
    note_shop(request, installed.shop_id)
    return installed
