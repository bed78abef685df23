"""CORS for the WooCommerce storefront routes, which the widget calls from the store's own pages:
a browser may read the answers only on the shop's own origin (the store URL it was connected
with), and may send the plugin's token there only. Any other origin gets no CORS headers, so the
browser keeps the answer from it. Shopify's widget calls its store's own /apps/vafa (the app
proxy): same origin, nothing to allow."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import error_response
from app.connectors.base import Platform
from app.state import AppState

_PATH = re.compile(r"^/storefront/woocommerce/([0-9]{1,18})/")
_MAX_AGE = "600"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class StorefrontCORS:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        origin = Headers(scope=scope).get("origin") if match else None
        if match is None or origin is None:
            await self.app(scope, receive, send)
            return
        state: AppState = scope["app"].state.vafa
        shop = await state.shops.by_id(int(match.group(1)))
        allowed = (
            shop is not None
            and shop.platform == Platform.WOOCOMMERCE
            and origin.lower() == origin_of(shop.domain)
        )
        if scope["method"] == "OPTIONS":  # the preflight of a request with the token
            headers = {"Vary": "Origin"}
            answer: Response
            if allowed:
                headers |= {
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": "GET, POST",
                    "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key",
                    "Access-Control-Max-Age": _MAX_AGE,
                }
                answer = Response(status_code=204, headers=headers)
            else:
                answer = error_response(
                    403, "origin_refused", "this origin is not the shop's own", headers=headers
                )
            await answer(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append("Vary", "Origin")
                if allowed:
                    headers["Access-Control-Allow-Origin"] = origin
            await send(message)

        await self.app(scope, receive, send_with_cors)
