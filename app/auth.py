"""The admin API's bearer key: it names its shop, so every query that follows is scoped to it."""

from __future__ import annotations

from fastapi import Request

from app.errors import Unauthorized
from app.shops.service import ShopContext
from app.state import AppState


async def current_shop(request: Request) -> ShopContext:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("send the shop's admin API key as 'Authorization: Bearer <key>'")
    state: AppState = request.app.state.vafa
    shop = await state.shops.by_admin_key(key.strip())
    if shop is None:
        raise Unauthorized("the admin API key is not valid")
    return shop
