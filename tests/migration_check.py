"""``alembic upgrade head`` on an empty database of the configured engine, then ``alembic check``
(the models and the migrations agree). Run by ``make test`` before pytest."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent


def _config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["configure_logger"] = False
    return config


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


def main() -> int:
    url = os.environ.get("VAFA_DATABASE_URL", "sqlite+aiosqlite:///vafa.db")
    if url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            scratch = f"sqlite+aiosqlite:///{tmp}/migration-check.db"
            command.upgrade(_config(scratch), "head")
            command.check(_config(scratch))
        print("migrations OK on an empty SQLite database")
        return 0
    base = make_url(url)
    name = f"vafa_migcheck_{uuid.uuid4().hex[:8]}"
    admin_url = base.set(database=base.database).render_as_string(hide_password=False)
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        scratch = base.set(database=name).render_as_string(hide_password=False)
        command.upgrade(_config(scratch), "head")
        command.check(_config(scratch))
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}"'))
    print("migrations OK on an empty PostgreSQL database")
    return 0


if __name__ == "__main__":
    sys.exit(main())
