"""What a stranger's ``store_url`` meets with private stores not allowed (the default): Vafa
calls only https:// stores on public addresses, and one store has one spelling, so that no
user:password@ or default port makes it a second shop."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.errors import Conflict, InvalidRequest
from app.shops import service as shops
from app.shops.models import Shop
from app.state import AppState
from app.woocommerce_app.addresses import StoreAddressRefused, checked_store_url


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"allow_private_stores": False})


@pytest.mark.parametrize(
    ("store_url", "why"),
    [
        ("http://127.0.0.1", "is not https://"),
        ("https://10.0.0.1", "is an IP address"),
        ("https://user:pw@x.example", "no user name or password"),
        ("https://localhost", "resolves to a private, loopback or reserved address"),
        ("http://shop.example", "is not https://"),
        ("https://[::1]", "is an IP address"),
    ],
)
async def test_a_store_url_vafa_must_not_call_is_refused_before_anything_is_made(
    client: httpx.AsyncClient, state: AppState, public_url: str, store_url: str, why: str
) -> None:
    response = await client.get("/woocommerce/connect", params={"store_url": store_url})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "store_address_refused"
    assert why in error["message"]
    async with state.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Shop)) == 0


def _resolving(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    """The event loop's resolver answers these addresses for any name."""

    async def getaddrinfo(host: str, port: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)


async def test_a_public_name_is_accepted_and_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    _resolving(monkeypatch, "93.184.215.14")
    url = await checked_store_url("https://Shop.Example:443/", allow_private=False)
    assert url == "https://shop.example"


@pytest.mark.parametrize("private", ["10.1.2.3", "169.254.169.254", "100.64.0.1", "0.0.0.0"])
async def test_a_name_with_any_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, private: str
) -> None:
    _resolving(monkeypatch, "93.184.215.14", private)
    with pytest.raises(StoreAddressRefused, match="private, loopback or reserved"):
        await checked_store_url("https://shop.example", allow_private=False)


async def test_a_name_that_does_not_resolve_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fails(host: str, port: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fails)
    with pytest.raises(StoreAddressRefused, match="does not resolve"):
        await checked_store_url("https://nowhere.example", allow_private=False)


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("https://User:pw@Shop.Example:443/", "https://shop.example"),
        ("HTTP://shop.example:80/wp/", "http://shop.example/wp"),
        ("https://shop.example.:8443/?a=1#top", "https://shop.example:8443"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://[2001:DB8::1]:443", "https://[2001:db8::1]"),
    ],
)
def test_one_store_has_one_spelling(given: str, normal: str) -> None:
    assert shops.normalize_store_url(given) == normal


@pytest.mark.parametrize("bad", ["ftp://shop.example", "https://", "https://shop.example:99999"])
def test_what_is_not_a_store_url_is_refused(bad: str) -> None:
    with pytest.raises(InvalidRequest, match="is not a store URL"):
        shops.normalize_store_url(bad)


async def test_a_second_spelling_of_a_store_is_the_same_shop(state: AppState) -> None:
    async with state.db.write() as session:
        await shops.add_woocommerce(
            session, state.vault, url="https://shop.example", consumer_key="ck_1",
            consumer_secret="cs_1",
        )  # fmt: skip
    for spelling in ("https://admin:pw@SHOP.example:443/", "https://shop.example./"):
        with pytest.raises(Conflict):
            async with state.db.write() as session:
                await shops.add_woocommerce(
                    session, state.vault, url=spelling, consumer_key="ck_2",
                    consumer_secret="cs_2",
                )  # fmt: skip
