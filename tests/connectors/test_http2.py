"""The process's store client speaks HTTP/2 to a store that offers it over TLS (as Shopify
does) and HTTP/1.1 to one that does not (the plain-HTTP fakes, a WooCommerce shop over HTTP).

The HTTP/2 store is the fake Shopify itself, served by hypercorn over TLS with a certificate
made here for 127.0.0.1, which the client trusts through ``SSL_CERT_FILE`` (httpx reads it when
the client is made): the client under test is ``StoreClients``' own, unchanged."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.types import ASGIApp, Receive, Scope, Send

from app.connectors.clients import StoreClients
from app.connectors.store import DiscountKind, DiscountSpec
from app.orm import utcnow
from app.shops import service as shops
from app.state import AppState
from tests.fakes.server import ServedApp
from tests.fakes.shopify import DEFAULT_TOKEN, FakeShopify


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vafa test store")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "store.pem", directory / "store.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Versions:
    """Wraps an ASGI app and records the HTTP version of every request it serves."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["http_version"])
        await self.app(scope, receive, send)


@pytest.fixture
def tls_shopify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeShopify, Versions, str]]:
    """The fake Shopify over TLS (hypercorn, ALPN h2 and http/1.1) on a free port; the
    process trusts its certificate."""
    cert_file, key_file = _self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    fake = FakeShopify()
    versions = Versions(fake.app)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections wait in the backlog until hypercorn accepts them
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns the socket from here on
    config.certfile, config.keyfile = str(cert_file), str(key_file)
    config.accesslog = config.errorlog = None
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()  # set from this thread through the server's loop

    async def main() -> None:
        await serve(versions, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        yield fake, versions, f"https://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def _spec(code: str) -> DiscountSpec:
    now = utcnow()
    return DiscountSpec(
        code=code, title="5 off (Vafa)", kind=DiscountKind.AMOUNT_OFF, value=500, currency="USD",
        exponent=2, customer_id="207119551", customer_email=None, starts_at=now,
        ends_at=now + dt.timedelta(days=30),
    )  # fmt: skip


async def _add_shop(state: AppState, domain: str, api_url: str) -> int:
    async with state.db.write() as session:
        shop = await shops.add_shopify(
            session, state.vault, domain=domain, access_token=DEFAULT_TOKEN,
            api_secret="webhook-secret", api_url=api_url,
        )  # fmt: skip
    return shop.shop_id


class TestHttpVersions:
    async def test_http2_to_a_tls_store_that_offers_it(
        self, state: AppState, tls_shopify: tuple[FakeShopify, Versions, str]
    ) -> None:
        fake, versions, url = tls_shopify
        fake.add_customer(207119551)
        shop_id = await _add_shop(state, "h2.myshopify.com", url)
        stores = StoreClients(state.db, state.vault)
        try:
            client = await stores.for_shop(shop_id)
            created = await client.create_discount(_spec("VAFA-H2H2-H2H2-H2H2-H2H2"))
            found = await client.find_discount("VAFA-H2H2-H2H2-H2H2-H2H2")
        finally:
            await stores.aclose()
        assert found is not None
        assert found.store_id == created.store_id
        assert fake.discount("VAFA-H2H2-H2H2-H2H2-H2H2") is not None
        assert versions.seen == ["2", "2"]

    async def test_http11_to_the_plain_http_fakes(
        self, state: AppState, fake_shopify: FakeShopify, shopify_server: ServedApp
    ) -> None:
        fake_shopify.add_customer(207119551)
        versions = Versions(fake_shopify.app)
        shopify_server.app = versions  # the fixture puts the fake back when the test ends
        shop_id = await _add_shop(state, "h1.myshopify.com", fake_shopify.base_url)
        stores = StoreClients(state.db, state.vault)
        try:
            client = await stores.for_shop(shop_id)
            await client.create_discount(_spec("VAFA-H1H1-H1H1-H1H1-H1H1"))
        finally:
            await stores.aclose()
        assert fake_shopify.discount("VAFA-H1H1-H1H1-H1H1-H1H1") is not None
        assert versions.seen == ["1.1"]
