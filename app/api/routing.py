"""The admin API's routes check the caller's key before they read any of the body, and then
read at most ``MAX_BODY_BYTES`` of it.

FastAPI reads and parses a route's body before it solves the route's dependencies, so a key
checked by a dependency is checked only after the whole body is in memory, whatever its size.
:class:`AdminRoute` does both checks first, before FastAPI's own handler runs.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from enum import Enum
from typing import Any

from fastapi import APIRouter, Request, Response, Security
from fastapi.routing import APIRoute
from starlette.types import Message, Receive

from app.api.deps import SHOP_SCOPE_KEY, authenticate_request
from app.api.errors import error_responses
from app.auth import bearer
from app.errors import DatabaseBusy, PayloadTooLarge, Unauthorized
from app.logs import note_shop

# No admin request needs more: an adjustment is a few hundred bytes.
MAX_BODY_BYTES = 64 * 1024


async def read_at_most(request: Request, limit: int) -> bytes:
    """The request's body, refused as soon as it is known to exceed ``limit`` bytes: from its
    declared length before reading anything, else while streaming it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands out ``body`` once, then the server's own messages (a
    disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


class AdminRoute(APIRoute):
    """A route of the admin API: the key first, then a bounded body, then FastAPI's handler."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        reads_body = self.body_field is not None

        async def checked(request: Request) -> Response:
            shop = await authenticate_request(request)
            request.scope[SHOP_SCOPE_KEY] = shop
            note_shop(request, shop.shop_id)
            if not reads_body:
                return await handle(request)
            body = await read_at_most(request, MAX_BODY_BYTES)
            return await handle(Request(request.scope, _replay(body, request.receive)))

        return checked


def admin_router(prefix: str, tags: Sequence[str | Enum]) -> APIRouter:
    """A router of admin API routes: key-checked, bounded, documented as such."""
    return APIRouter(
        prefix=prefix,
        tags=list(tags),
        route_class=AdminRoute,
        # Documents the bearer scheme on every route (the check itself is AdminRoute's).
        dependencies=[Security(bearer)],
        responses=error_responses(Unauthorized, DatabaseBusy),
    )
