"""What a route is given: the process's state, a database session, the caller's shop.

    async def endpoint(shop: CurrentShop, session: ReadSession) -> ...

``WriteSession`` commits when the endpoint returns, before the answer is sent (a 201 means
committed), and rolls back if it raises; both sessions end before the answer is sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import authenticate
from app.members.balances import BalanceReader
from app.shopify_app.config import ShopifyApp
from app.shops.service import ShopContext
from app.state import AppState

# Where AdminRoute leaves the shop whose key it checked.
SHOP_SCOPE_KEY = "vafa.shop"


def app_state(request: Request) -> AppState:
    """The process's state, which the lifespan (or a test) put on the app."""
    state: AppState = request.app.state.vafa
    return state


async def _app_state(request: Request) -> AppState:
    # Dependencies are ``async def``: FastAPI runs a plain ``def`` one on a worker thread.
    return app_state(request)


State = Annotated[AppState, Depends(_app_state)]


async def _read_session(state: State) -> AsyncIterator[AsyncSession]:
    async with state.db.read() as session:
        yield session


async def _write_session(state: State) -> AsyncIterator[AsyncSession]:
    async with state.db.write() as session:
        yield session


# scope="function": the transaction ends when the endpoint returns, not after the answer is
# sent, so that a failed commit is answered as an error instead of after a success.
ReadSession = Annotated[AsyncSession, Depends(_read_session, scope="function")]
WriteSession = Annotated[AsyncSession, Depends(_write_session, scope="function")]


async def authenticate_request(request: Request) -> ShopContext:
    """The shop whose admin API key, or Shopify session token, the request carries."""
    state = app_state(request)
    header = request.headers.get("authorization")
    return await authenticate(state.shops, header, ShopifyApp.from_settings(state.settings))


async def current_shop(request: Request) -> ShopContext:
    """The shop whose admin API key (or session token) the request carries."""
    shop = request.scope.get(SHOP_SCOPE_KEY)
    if isinstance(shop, ShopContext):
        return shop  # checked by AdminRoute before the body was read
    return await authenticate_request(request)


CurrentShop = Annotated[ShopContext, Depends(current_shop)]


async def _balances(state: State) -> BalanceReader:
    return state.balances


Balances = Annotated[BalanceReader, Depends(_balances)]
