"""Test harness: a real database (SQLite by default, PostgreSQL when VAFA_DATABASE_URL names
one), migrated with Alembic once per run and emptied before every test."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.cli import run_migrations
from app.config import Settings
from app.crypto import new_secret_key
from app.db import Database
from app.main import create_app
from app.models import Base
from app.shops import service as shops
from app.state import AppState
from tests.migration_check import _admin
from tests.signing import shopify_headers, woocommerce_headers

# The fake stores' fixtures (fake_shopify, woo_store, ...): real HTTP servers for tests.
pytest_plugins = ["tests.fakes.plugin"]

FIXTURES = Path(__file__).parent / "fixtures"
SECRET_KEY = new_secret_key()
ENV_URL = os.environ.get("VAFA_DATABASE_URL", "")
USES_POSTGRES = ENV_URL.startswith("postgresql")


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture_bytes(name))


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database: a SQLite file to copy, or the PostgreSQL database itself."""
    if USES_POSTGRES:

        async def reset() -> None:
            db = Database(ENV_URL)
            async with db.writer.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            await db.dispose()

        asyncio.run(reset())
        run_migrations(ENV_URL)
        return ENV_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_migrations(f"sqlite+aiosqlite:///{path}")
    return str(path)


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> str:
    if USES_POSTGRES:
        return database_template
    target = tmp_path / "vafa.db"
    shutil.copyfile(database_template, target)
    return f"sqlite+aiosqlite:///{target}"


async def _truncate(db: Database) -> None:
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    async with db.writer.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=SECRET_KEY,
        worker_in_process=False,
        worker_backoff_base_seconds=0.0,
        shop_cache_seconds=0.0,
    )


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    if USES_POSTGRES:
        await _truncate(database)
    yield database
    await database.dispose()


@pytest.fixture
def state(settings: Settings, db: Database) -> AppState:
    return AppState.build(settings, db)


@pytest.fixture
async def client(settings: Settings, state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, state)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://vafa.test") as c:
        yield c


SHOPIFY_DOMAIN = "vafa-test.myshopify.com"
SHOPIFY_SECRET = "hush"


@dataclass
class ShopifyShop:
    shop_id: int
    admin_api_key: str
    domain: str
    secret: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_api_key}"}

    def headers(self, body: bytes, topic: str, event_id: str | None = None) -> dict[str, str]:
        return shopify_headers(
            body, secret=self.secret, topic=topic, domain=self.domain, event_id=event_id
        )


@dataclass
class WooShop:
    shop_id: int
    admin_api_key: str
    secret: str
    webhook_url: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_api_key}"}

    def headers(self, body: bytes, topic: str) -> dict[str, str]:
        return woocommerce_headers(body, secret=self.secret, topic=topic)


async def make_shopify_shop(
    state: AppState,
    domain: str = SHOPIFY_DOMAIN,
    secret: str = SHOPIFY_SECRET,
    settings: dict[str, Any] | None = None,
) -> ShopifyShop:
    from app.program.settings import ProgramSettings

    async with state.db.write() as session:
        new = await shops.add_shopify(
            session,
            state.vault,
            domain=domain,
            access_token="shpat_test",
            api_secret=secret,
            settings=ProgramSettings.from_json(settings),
        )
    return ShopifyShop(new.shop_id, new.admin_api_key, domain, secret)


async def make_woo_shop(
    state: AppState,
    url: str = "https://store.example",
    settings: dict[str, Any] | None = None,
) -> WooShop:
    from app.program.settings import ProgramSettings

    async with state.db.write() as session:
        new = await shops.add_woocommerce(
            session,
            state.vault,
            url=url,
            consumer_key="ck_test",
            consumer_secret="cs_test",
            settings=ProgramSettings.from_json(settings),
        )
    assert new.webhook_secret is not None
    assert new.webhook_url is not None
    return WooShop(new.shop_id, new.admin_api_key, new.webhook_secret, new.webhook_url)


@pytest.fixture
async def shopify_shop(state: AppState) -> ShopifyShop:
    return await make_shopify_shop(state)


@pytest.fixture
async def woo_shop(state: AppState) -> WooShop:
    return await make_woo_shop(state)


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it, of the engine under test (a SQLite file not yet made)."""
    if not USES_POSTGRES:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"vafa_cli_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(ENV_URL, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(ENV_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(ENV_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
