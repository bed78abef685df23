"""The database schema's migrations: where they are, running them, and checking that a database
is there and migrated before a command uses it."""

from __future__ import annotations

import asyncio
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

# Seconds to wait for the database to answer before saying it cannot be reached.
CONNECT_TIMEOUT = 10.0


class DatabaseNotReady(Exception):
    """The database is missing, unreachable or not migrated: one line for the operator."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def migrations_dir() -> Path:
    """The migrations: shipped inside the package as ``app/_migrations`` (a wheel, the Docker
    image), or ``migrations/`` beside the package in a checkout."""
    packaged = resources.files("app") / "_migrations"
    if packaged.joinpath("env.py").is_file():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parent.parent / "migrations"
    if (checkout / "env.py").is_file():
        return checkout
    raise DatabaseNotReady("this installation of vafa has no migrations (a broken install?)")


def alembic_config(url: str) -> Config:
    """Alembic's settings for ``url``, without alembic.ini (that file is for developers'
    ``alembic`` command, and an installed package does not have it)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("path_separator", "os")
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["configure_logger"] = False
    return config


def upgrade(url: str) -> None:
    """Bring the schema at ``url`` to head; a SQLite file is created if it does not exist."""
    path = sqlite_file(url)
    if path is not None and not path.parent.is_dir():
        raise DatabaseNotReady(f"cannot create {path}: there is no directory {path.parent}")
    command.upgrade(alembic_config(url), "head")


def location(url: str) -> str:
    """Where ``url`` points, as an operator recognises it: a SQLite file's absolute path, else
    the URL without its password."""
    path = sqlite_file(url)
    return str(path) if path is not None else make_url(url).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names, resolved as SQLite would from the working directory (None
    for other engines and in-memory databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database or ""
    if name in ("", ":memory:") or name.startswith("file:") or parsed.query.get("uri"):
        return None
    return Path(name).expanduser().resolve()


def error_reason(exc: BaseException) -> str:
    """The first line of what the driver said."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__


def _current_heads(connection: Connection) -> tuple[str, ...]:
    # Reads alembic_version if it exists; creates nothing.
    return MigrationContext.configure(connection).get_current_heads()


async def check_database(url: str) -> None:
    """Raise DatabaseNotReady unless the database at ``url`` exists, answers, and has its schema
    at the head of the migrations. A missing SQLite file is never created."""
    where = location(url)
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise DatabaseNotReady(
            f"no database at {path}: run `vafa migrate` to create it there, "
            "or set VAFA_DATABASE_URL to the database you mean"
        )
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT), engine.connect() as connection:
            current = await connection.run_sync(_current_heads)
    except TimeoutError as exc:
        raise DatabaseNotReady(
            f"cannot reach the database at {where}: no answer in {CONNECT_TIMEOUT:g} s"
        ) from exc
    except (OSError, DBAPIError, InterfaceError) as exc:
        raise DatabaseNotReady(
            f"cannot reach the database at {where}: {error_reason(exc)}"
        ) from exc
    finally:
        await engine.dispose()
    script = ScriptDirectory.from_config(alembic_config(url))
    heads = set(script.get_heads())
    if set(current) == heads:
        return
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = sorted(set(current) - known)
    if unknown:
        raise DatabaseNotReady(
            f"the database at {where} is at revision {', '.join(unknown)}, which this version "
            "of vafa does not know (was it migrated by a newer vafa?)"
        )
    raise DatabaseNotReady(f"the database at {where} is not migrated (run `vafa migrate`)")
