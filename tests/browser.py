"""Pages in a real browser: Debian's Chromium, driven by Playwright, on pages a fake store
serves (the widget) or Vafa serves (the admin). The store and Vafa run as one real HTTP server
on the test's own event loop (the database, the worker and the browser's requests share it):
the store's pages at ``/shop/…``, Shopify's app proxy at ``/apps/vafa/…`` (forwarded to Vafa's
``/storefront/shopify/…`` with the query Shopify signs, PLATFORMS.md S5), and Vafa itself for
everything else."""

from __future__ import annotations

import asyncio
import html
import os
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.state import AppState
from tests.storefront.signing import app_proxy_query

CHROMIUM = os.environ.get("VAFA_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("VAFA_TEST_ARTIFACTS", "test-artifacts"))


@dataclass
class Storefront:
    """What the fake store's page puts in front of the shopper."""

    url: str = ""
    shopify_domain: str = ""
    shopify_secret: str = ""
    customer_id: str = ""  # the shopper logged in to the store ("" a guest)
    woo_api: str = ""
    woo_token: str = ""
    # The plugin's fresh-token route (WordPress REST, the customer's cookie and nonce): what
    # it answers, and how often it was asked.
    woo_fresh_token: str = ""
    woo_token_requests: int = 0
    colour: str = ""
    requests: list[str] = field(default_factory=list)


def _page(store: Storefront, platform: str, locale: str) -> str:
    attrs = {"data-platform": platform, "data-locale": locale, "data-shop": "1"}
    if platform == "woocommerce":
        attrs |= {"data-api": store.woo_api}
        if store.woo_token:
            attrs["data-token"] = store.woo_token
        if store.woo_fresh_token:
            attrs |= {"data-token-url": "/wp-json/vafa/v1/token", "data-nonce": "nonce"}
    if store.colour:
        attrs["data-colour"] = store.colour
    shown = " ".join(f'{k}="{html.escape(v)}"' for k, v in attrs.items())
    direction = "rtl" if locale == "fa" else "ltr"
    return (
        f'<!doctype html><html lang="{locale}" dir="{direction}"><head><meta charset="utf-8">'
        f'<title>Store</title></head><body style="background:#fafafa"><h1>A store</h1>'
        f'<script src="/widget/v1/vafa.js" async></script><vafa-club {shown}></vafa-club>'
        f"</body></html>"
    )


def store_app(vafa: Starlette, store: Storefront) -> Starlette:
    vafa_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=vafa), base_url="http://vafa")

    async def page(request: Request) -> Response:
        return HTMLResponse(
            _page(store, request.path_params["platform"], request.query_params.get("locale", "en"))
        )

    async def app_proxy(request: Request) -> Response:
        """Shopify's side of /apps/vafa: the signed query added, the rest passed on."""
        path = request.path_params["path"]
        store.requests.append(f"{request.method} /apps/vafa/{path}")
        query = app_proxy_query(store.shopify_secret, store.shopify_domain, store.customer_id)
        answer = await vafa_client.request(
            request.method,
            f"/storefront/shopify/{path}?{query}",
            content=await request.body(),
            headers={"content-type": request.headers.get("content-type", "application/json")},
        )
        return Response(answer.content, answer.status_code, media_type="application/json")

    async def fresh_token(request: Request) -> Response:
        if request.headers.get("x-wp-nonce") != "nonce":
            return Response('{"code": "rest_cookie_invalid_nonce"}', 403)
        store.woo_token_requests += 1
        return Response(f'{{"token": "{store.woo_fresh_token}"}}', media_type="application/json")

    return Starlette(
        routes=[
            Route("/shop/{platform}", page),
            Route("/wp-json/vafa/v1/token", fresh_token),
            Route("/apps/vafa/{path:path}", app_proxy, methods=["GET", "POST"]),
            Mount("/", app=vafa),
        ]
    )


@pytest.fixture
async def live(settings: Settings, db: Database) -> AsyncIterator[tuple[Storefront, AppState]]:
    """Vafa behind the fake store, served over HTTP, with its worker running (codes are made)."""
    waiting = settings.model_copy(update={"redemption_wait_seconds": 3.0})
    state = AppState.build(waiting, db)
    store = Storefront()
    app = store_app(create_app(waiting, state), store)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    store.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", loop="asyncio")
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    stop = asyncio.Event()
    worker = asyncio.create_task(state.worker.run_forever(stop, wake=state.wake_worker))
    while not server.started:  # noqa: ASYNC110 (uvicorn sets a flag, not an event)
        await asyncio.sleep(0.01)
    try:
        yield store, state
    finally:
        stop.set()
        server.should_exit = True
        await serving
        await worker


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        await chromium.close()


def screenshot_path(name: str) -> str:
    """``area/name`` → test-artifacts/area/name.png (kept by CI as the run's artifacts)."""
    path = ARTIFACTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


async def contrast_ratios(
    page: Page, selector: str, *, within: str | None = "vafa-club"
) -> list[float]:
    """WCAG contrast of text against its own background (the first painted one behind it) for
    each element matched: inside ``within``'s shadow root (the widget), or the page itself."""
    pairs: list[list[str]] = await page.evaluate(
        """([selector, within]) => {
            const root = within ? document.querySelector(within).shadowRoot : document;
            const opaque = (c) => c !== 'transparent' && !c.endsWith(', 0)');
            const behind = (n) => {  // the first background that is painted, up to the page's
                for (let m = n; m; m = m.parentElement || (m.getRootNode().host || null)) {
                    const c = getComputedStyle(m).backgroundColor;
                    if (opaque(c)) return c;
                }
                return 'rgb(255, 255, 255)';
            };
            const shown = (n) => n.getClientRects().length > 0 && n.textContent.trim() !== '';
            return [...root.querySelectorAll(selector)].filter(shown)
                .map((n) => [getComputedStyle(n).color, behind(n)]);
        }""",
        [selector, within],
    )

    def luminance(rgb: str) -> float:
        r, g, b = (int(x) / 255 for x in re.findall(r"\d+", rgb)[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    ratios = []
    for fg, bg in pairs:
        hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
        ratios.append((hi + 0.05) / (lo + 0.05))
    return ratios
