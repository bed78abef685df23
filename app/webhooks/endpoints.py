"""``POST /webhooks/shopify`` and ``POST /webhooks/woocommerce/{shop_id}``.

The endpoints are documented through a FastAPI router (``router``: OpenAPI, ``/docs``) and
served by plain Starlette routes to the same functions (:func:`plain_routes`), which the app
places ahead of everything else: a FastAPI route wraps each request in machinery (dependency
solving, exit stacks, response-model handling) that the intake uses none of, and at webhook
rates that is a visible share of an acknowledgement (docs/benchmarks.md). Errors are still
raised as :class:`app.errors.AppError` and answered by the app's handlers, as for any route.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from time import perf_counter

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.convertors import StringConvertor
from starlette.routing import Route

from app.api.routing import read_at_most
from app.connectors.base import Platform, WebhookHeaders
from app.connectors.registry import connector_for
from app.errors import PayloadTooLarge, Unauthorized
from app.logs import note_shop
from app.metrics import record_webhook
from app.shops.models import ShopStatus
from app.state import AppState
from app.webhooks.intake import PLATFORM_HEADERS, UNAUTHORIZED, Outcome, is_woocommerce_ping

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
_SHOP_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits that fit a BIGINT; anything else is unknown


class Ack(BaseModel):
    status: str  # accepted | duplicate | ignored | rejected | pong


def ack(status: str) -> Response:
    """The :class:`Ack` document, encoded without building and validating the model: every
    delivery is answered with one of five fixed bodies (``response_model`` documents them)."""
    return Response(_ACK_BODIES[status], media_type="application/json")


_ACK_BODIES = {
    status: orjson.dumps({"status": status}) for status in [*Outcome, "pong"]
}  # every outcome intake can report, and the answer to WooCommerce's creation ping


def _extra(request: Request, platform: Platform) -> dict[str, str]:
    return {
        name: value
        for name in PLATFORM_HEADERS[platform]
        if (value := request.headers.get(name)) is not None
    }


class _Answer:
    """What a delivery came to, for the metrics (None: nothing to count, the creation ping)."""

    __slots__ = ("outcome",)

    def __init__(self) -> None:
        self.outcome: str | None = None


@contextmanager
def _counted(platform: Platform, topic: str) -> Iterator[_Answer]:
    """Count the delivery by outcome and time its answer. Only the topics Vafa acts on are
    labels of their own: a topic header is not signed, so any other value would be a new
    series."""
    started = perf_counter()
    answer = _Answer()
    try:
        yield answer
    except Unauthorized:
        answer.outcome = "unauthorized"
        raise
    except PayloadTooLarge:
        answer.outcome = "too_large"
        raise
    except Exception:
        answer.outcome = "error"
        raise
    finally:
        if answer.outcome is not None:
            label = topic if topic in connector_for(platform).topics() else "other"
            record_webhook(platform.value, label, answer.outcome, perf_counter() - started)


@router.post("/shopify", summary="Receive a Shopify webhook", response_model=Ack)
async def shopify_webhook(request: Request) -> Response:
    h = request.headers
    with _counted(Platform.SHOPIFY, h.get("x-shopify-topic", "")) as answer:
        state: AppState = request.app.state.vafa
        raw = await read_at_most(request, state.settings.webhook_max_body_bytes)
        domain = (h.get("x-shopify-shop-domain") or "").strip().lower()
        shop = await state.shops.by_domain(Platform.SHOPIFY, domain) if domain else None
        headers = WebhookHeaders(
            topic=h.get("x-shopify-topic", ""),
            signature=h.get("x-shopify-hmac-sha256"),
            shop_domain=domain,
            event_id=h.get("x-shopify-event-id"),
            extra=_extra(request, Platform.SHOPIFY),
        )
        result = await state.intake.accept(Platform.SHOPIFY, shop, headers, raw)
        note_shop(request, result.shop_id)
        answer.outcome = result.outcome.value
        return ack(result.outcome.value)


@router.post("/woocommerce/{shop_id}", summary="Receive a WooCommerce webhook", response_model=Ack)
async def woocommerce_webhook(shop_id: str, request: Request) -> Response:
    h = request.headers
    with _counted(Platform.WOOCOMMERCE, h.get("x-wc-webhook-topic", "")) as answer:
        state: AppState = request.app.state.vafa
        raw = await read_at_most(request, state.settings.webhook_max_body_bytes)
        shop = await state.shops.by_id(int(shop_id)) if _SHOP_ID.fullmatch(shop_id) else None
        # A paused shop (its store refused Vafa's calls) still has its deliveries kept.
        receiving = shop is not None and shop.status in ShopStatus.RECEIVING
        if shop is not None and (shop.platform != Platform.WOOCOMMERCE or not receiving):
            shop = None
        signature = h.get("x-wc-webhook-signature")
        if is_woocommerce_ping(h.get("content-type", ""), raw, signature):
            if shop is None:
                raise Unauthorized(UNAUTHORIZED)
            note_shop(request, shop.shop_id)
            return ack("pong")
        headers = WebhookHeaders(
            topic=h.get("x-wc-webhook-topic", ""),
            signature=signature,
            event_id=None,
            extra=_extra(request, Platform.WOOCOMMERCE),
        )
        result = await state.intake.accept(Platform.WOOCOMMERCE, shop, headers, raw)
        note_shop(request, result.shop_id)
        answer.outcome = result.outcome.value
        return ack(result.outcome.value)


def plain_routes(declared: APIRouter) -> list[Route]:
    """Every endpoint of ``declared``, at its path, methods and name, as a plain Starlette
    route."""
    routes = []
    for route in declared.routes:
        if isinstance(route, APIRoute):
            _check_plain(route)
            routes.append(
                Route(
                    route.path,
                    _plain(route.endpoint),
                    methods=sorted(route.methods or ()),
                    name=route.name,
                )
            )
    return routes


def _check_plain(route: APIRoute) -> None:
    """A plain route passes the request and the path's strings, nothing else: an endpoint that
    wants more (a dependency, a query or a body model, a converted path parameter) must stay a
    FastAPI route, or it would get strings or a TypeError."""
    parameters = inspect.signature(route.endpoint, eval_str=True).parameters
    given = {name: parameter.annotation for name, parameter in parameters.items()}
    wanted = {"request": Request} | dict.fromkeys(route.param_convertors, str)
    converted = any(not isinstance(c, StringConvertor) for c in route.param_convertors.values())
    if given != wanted or converted:
        raise TypeError(f"{route.path} cannot be served as a plain route: it takes {given}")


def _plain(
    endpoint: Callable[..., Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        return await endpoint(request=request, **request.path_params)

    return serve
