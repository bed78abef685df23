"""The key exchange's three addresses: where the plugin's "Connect" button sends the store owner,
where WooCommerce POSTs the keys, and where the browser comes back."""

from __future__ import annotations

import html
from typing import Annotated

import httpx
import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.api.deps import State
from app.api.errors import error_responses
from app.api.routing import read_at_most
from app.connectors.clients import TIMEOUT
from app.connectors.store import StoreError
from app.connectors.woocommerce.client import WooCommerceClient
from app.errors import AppError, InvalidPayload, InvalidRequest, ValidationFailed
from app.orm import utcnow
from app.shops.models import Shop
from app.sync import webhooks
from app.woocommerce_app import service

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
    responses=error_responses(InvalidRequest, ValidationFailed),
)
async def connect(
    state: State, store_url: Annotated[str, Query(min_length=8, max_length=512)]
) -> Response:
    async with state.db.write() as session:
        started = await service.start(session, state.vault, store_url, _public_url(), utcnow())
    return RedirectResponse(started.authorize_url, status_code=302)


@router.post(
    "/callback/{shop_id}",
    summary="WooCommerce posts the new API keys here (answered exactly 200 when kept)",
    responses=error_responses(InvalidPayload, ValidationFailed),
)
async def callback(shop_id: ShopId, request: Request, state: State) -> dict[str, str]:
    """Not signed by WooCommerce: accepted only for a live connect attempt of this shop whose
    single-use value matches, and only once the keys work on the store. Any other answer than
    200 makes WooCommerce delete the keys it made, which is what a refusal should do."""
    raw = await read_at_most(request, MAX_CALLBACK_BYTES)
    try:
        keys = KeysIn.model_validate(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        raise InvalidPayload("the body is not valid JSON") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(f"{where}: {first['msg']}") from exc
    now = utcnow()
    async with state.db.read() as session:
        await service.check_attempt(session, shop_id, keys.user_id, now)  # before calling out
        shop = await session.get(Shop, shop_id)
        assert shop is not None  # the attempt's foreign key
        url = shop.api_url or shop.domain
        creds = state.vault.open(shop.credentials)
    new = {**creds, "consumer_key": keys.consumer_key, "consumer_secret": keys.consumer_secret}
    # A client of its own: a connect is rare, and this process may call no store otherwise.
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as http:
        client = WooCommerceClient.from_credentials(http, url=url, credentials=new)
        try:
            await client.list_webhooks()  # needs read_write keys of a store owner
        except StoreError as exc:
            raise service.KeysRefused(f"the store refused the new keys: {exc.message}") from exc
    async with state.db.write() as session:
        await service.receive_keys(
            session,
            state.vault,
            shop_id,
            service.Keys(
                keys.key_id,
                keys.user_id,
                keys.consumer_key,
                keys.consumer_secret,
                keys.key_permissions,
            ),  # fmt: skip
            now,
        )
    return {"status": "connected"}


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vafa: {title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;
color:#1b1b1b}} dt{{font-weight:600}} code{{background:#f2f2f2;padding:.1rem .3rem;
word-break:break-all}}</style></head>
<body><main><h1>{title}</h1>{body}</main></body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status)


@router.get(
    "/connected/{shop_id}",
    summary="Where the store owner's browser returns: the plugin's settings, shown once",
    responses={200: {"content": {"text/html": {}}}, **error_responses(ValidationFailed)},
)
async def connected(
    shop_id: ShopId,
    state: State,
    user_id: Annotated[str, Query(min_length=1, max_length=128)],
    success: Annotated[int, Query()] = 0,
) -> HTMLResponse:
    if success != 1:
        return _page(
            "Not connected",
            "<p>The store did not give Vafa its keys (the request was declined). Start again "
            "from the Vafa plugin's settings when you are ready.</p>",
        )
    try:
        async with state.db.write() as session:
            shown = await service.reveal(session, state.vault, shop_id, user_id, utcnow())
    except AppError as exc:
        return _page("Not connected", f"<p>{html.escape(exc.message)}</p>", exc.status_code)
    rows = "".join(
        f"<dt>{html.escape(label)}</dt><dd><code>{html.escape(str(shown[key]))}</code></dd>"
        for label, key in (
            ("Shop id", "shop_id"),
            ("Storefront secret (the plugin's settings)", "storefront_secret"),
            ("Admin API key (keep it safe; shown once)", "admin_api_key"),
        )
    )
    return _page(
        "Your store is connected",
        f"<p>Copy these into <strong>WooCommerce → Vafa club</strong>. They are shown once.</p>"
        f"<dl>{rows}</dl><p>Vafa is importing your past orders now; they earn no points, so "
        f"that the club starts today.</p>",
    )
