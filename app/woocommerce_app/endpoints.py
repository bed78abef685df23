"""The key exchange's three addresses: where the plugin's "Connect" button sends the store owner,
where WooCommerce POSTs the keys, and where the browser comes back."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import State
from app.api.errors import error_responses, parse_body
from app.api.routing import read_at_most
from app.errors import InvalidPayload, InvalidRequest, Unauthorized, ValidationFailed
from app.orm import utcnow
from app.ratelimits import RateLimited, client_address
from app.sync import webhooks
from app.woocommerce_app import service
from app.woocommerce_app.addresses import StoreAddressRefused

router = APIRouter(prefix="/woocommerce", tags=["woocommerce install"])
ShopId = Annotated[int, Path(ge=1, le=2**63 - 1)]
# WooCommerce's callback is five short fields.
MAX_CALLBACK_BYTES = 16 * 1024


class KeysIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key_id: int
    user_id: str = Field(min_length=1, max_length=128, coerce_numbers_to_str=True)
    consumer_key: str = Field(pattern=r"^ck_[A-Za-z0-9]{1,100}$")
    consumer_secret: str = Field(pattern=r"^cs_[A-Za-z0-9]{1,100}$")
    key_permissions: str = Field(max_length=16)


def _public_url() -> str:
    base = webhooks.public_url()
    if base is None:
        raise InvalidRequest(
            "VAFA_PUBLIC_URL is not set: the store could not reach Vafa to send the keys"
        )
    return base


@router.get(
    "/connect",
    status_code=302,
    summary="Start connecting a WooCommerce store (redirects to its authorize page)",
    responses=error_responses(
        InvalidRequest, StoreAddressRefused, service.ShopDisabled, ValidationFailed, RateLimited
    ),
)
async def connect(
    request: Request,
    state: State,
    store_url: Annotated[str, Query(min_length=8, max_length=512)],
) -> Response:
    # Each connect may make a pending shop and, later, a call to the URL: a budget per client.
    await state.connect_limits.address(client_address(request))
    started = await service.start(
        state.db, state.vault, store_url, _public_url(), utcnow(),
        allow_private=state.settings.allow_private_stores,
    )  # fmt: skip
    state.shops.forget()  # a shop made or found pending must not be served from the cache
    return RedirectResponse(started.authorize_url, status_code=302)


@router.post(
    "/callback/{shop_id}",
    summary="WooCommerce posts the new API keys here (answered exactly 200 when kept)",
    responses=error_responses(
        Unauthorized,
        InvalidRequest,
        InvalidPayload,
        service.KeysRefused,
        service.SettingsNotPushed,
        service.ShopDisabled,
        StoreAddressRefused,
        ValidationFailed,
    ),  # fmt: skip
)
async def callback(shop_id: ShopId, request: Request, state: State) -> dict[str, str]:
    """Not signed by WooCommerce: accepted only for a live connect attempt of this shop whose
    single-use value matches, once the keys work on the store and the store took the plugin's
    settings. Any other answer than 200 makes WooCommerce delete the keys it made, which is
    what a refusal should do."""
    keys = parse_body(KeysIn, await read_at_most(request, MAX_CALLBACK_BYTES))
    given = service.Keys(
        keys.key_id, keys.user_id, keys.consumer_key, keys.consumer_secret, keys.key_permissions
    )
    try:
        await service.accept_keys(
            state.db, state.vault, shop_id, given, _public_url(), utcnow(),
            allow_private=state.settings.allow_private_stores,
        )  # fmt: skip
    finally:
        state.shops.forget()  # the shop's new status and keys, at once
    return {"status": "connected"}


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vafa: {title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;
color:#1b1b1b}}</style></head>
<body><main><h1>{title}</h1>{body}</main></body></html>"""
# The page's address carries the attempt's value: no cache keeps it, no link passes it on.
_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), headers=_PAGE_HEADERS)


@router.get(
    "/connected/{shop_id}",
    summary="Where the store owner's browser returns: connected or not, never a secret",
    responses={200: {"content": {"text/html": {}}}, **error_responses(ValidationFailed)},
)
async def connected(
    shop_id: ShopId,
    state: State,
    user_id: Annotated[str, Query(min_length=1, max_length=128)],
    success: Annotated[int, Query()] = 0,
) -> HTMLResponse:
    if success == 1 and await service.returned(state.db, shop_id, user_id):
        return _page(
            "Your store is connected",
            "<p>Vafa has written the club's settings into the Vafa club plugin on your store "
            "(<strong>WooCommerce → Vafa club</strong>): there is nothing to copy. Vafa is "
            "importing your past orders now; they earn no points, so that the club starts "
            "today.</p>",
        )
    return _page(
        "Not connected",
        "<p>The store did not give Vafa working keys (the request was declined, or the Vafa "
        "club plugin could not be set up). Start again from the Vafa plugin's settings when "
        "you are ready.</p>",
    )
