"""Hot-path reads run on the database driver itself, below SQLAlchemy's execution layer.

A balance read is one indexed lookup: a few microseconds in the database. Through SQLAlchemy's
async layer the same read costs ~350 µs of Python on PostgreSQL (connection wrapper, greenlet,
result machinery) and ~700 µs on SQLite, where every call also hops to aiosqlite's thread and
back through the GIL. The statement is still written once with SQLAlchemy and compiled once
per engine; only its execution is done here, for statements whose parameters and columns are
plain integers and strings (nothing for a type processor to convert).

- PostgreSQL: a connection from the reader pool (autocommit, so no transaction to end) and
  asyncpg's ``fetch`` on it, which prepares the statement once per connection.
- SQLite: a read-only ``sqlite3`` connection used on the event loop itself. A lookup by key
  takes ~5 µs, far less than the hop to a thread would; in WAL mode a reader does not wait for
  the writer, and with no busy timeout it never blocks the loop: on ``SQLITE_BUSY`` (a WAL
  recovery in progress, rare) the read goes through the engine's own thread instead.
- Any other engine, or an in-memory SQLite database: through SQLAlchemy as usual.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg
from sqlalchemy import ARRAY, Integer, String, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select
from sqlalchemy.types import TypeEngine

Row = tuple[Any, ...]
_SQLITE_TRY_LATER = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_PROTOCOL)
_DISCONNECTED = (OSError, asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.InterfaceError)
_READ_ATTEMPTS = 3
AnySelect: TypeAlias = Select[*tuple[Any, ...]]
_Compiled: TypeAlias = tuple[str, tuple[str, ...], dict[str, Any]]


class PlainReads:
    def __init__(self, reader: AsyncEngine) -> None:
        self._reader = reader
        self._dialect = reader.dialect.name
        # Keyed by identity (the statements are module-level constants, built once); the value
        # holds the statement too, so that its id cannot be reused by another while cached.
        self._compiled: dict[int, tuple[AnySelect, _Compiled]] = {}
        self._sqlite: sqlite3.Connection | None = None
        self._sqlite_path = sqlite_file(reader)

    async def fetch(self, statement: AnySelect, params: Mapping[str, Any]) -> list[Row]:
        """The rows of ``statement``, as tuples in its column order."""
        sql, names, values = self._compile(statement)
        args = [params[name] if name in params else values[name] for name in names]
        if self._sqlite_path is not None:
            try:
                return self._sqlite_connection().execute(sql, args).fetchall()
            except sqlite3.OperationalError as exc:
                if not sqlite_try_later(exc):
                    raise
        elif self._dialect == "postgresql":
            # A connection the server dropped (a restart, a failover) is found on use; it is
            # invalidated, and the read, which changes nothing, is tried on another.
            for attempt in range(1, _READ_ATTEMPTS + 1):
                try:
                    async with driver_connection(self._reader) as driver:
                        records = await driver.fetch(sql, *args)
                    return [tuple(record) for record in records]
                except _DISCONNECTED:
                    if attempt == _READ_ATTEMPTS:
                        raise
            raise AssertionError("unreachable")
        async with self._reader.connect() as conn:
            return [tuple(row) for row in await conn.execute(statement, dict(params))]

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None

    def _sqlite_connection(self) -> sqlite3.Connection:
        if self._sqlite is None:
            assert self._sqlite_path is not None
            # mode=ro: this connection can never write, whatever statement reaches it.
            # timeout=0: SQLITE_BUSY raises at once instead of blocking the event loop.
            self._sqlite = sqlite3.connect(
                f"{Path(self._sqlite_path).resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=0,
                isolation_level=None,
                check_same_thread=False,
            )
        return self._sqlite

    def _compile(self, statement: AnySelect) -> _Compiled:
        cached = self._compiled.get(id(statement))
        if cached is not None:
            return cached[1]
        for column in statement.selected_columns:
            if not _plain(column.type):
                raise TypeError(f"column {column!r} needs type conversion: not a plain read")
        compiled = statement.compile(dialect=self._reader.dialect)
        names = tuple(compiled.positiontup or ())
        for name in names:
            if not _plain(compiled.binds[name].type):
                raise TypeError(f"parameter {name!r} needs type conversion: not a plain read")
        # The SQL text, its parameters in order, and the values bound in the statement itself.
        found = (str(compiled), names, compiled.params)
        self._compiled[id(statement)] = (statement, found)
        return found


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """The driver's own connection (asyncpg), from SQLAlchemy's pool and back into it.

    Used below SQLAlchemy's transaction layer: the driver is in autocommit, and the pool's
    reset on return finds no transaction of its own to end. Going through SQLAlchemy's
    connection also closes an overflow connection properly (that needs I/O in its greenlet).
    As SQLAlchemy never sees an error raised here, a connection found dead is invalidated
    here, so that the pool does not hand it out again."""
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        try:
            yield driver
        except BaseException as exc:
            if isinstance(exc, _DISCONNECTED) or getattr(driver, "is_closed", lambda: False)():
                await conn.invalidate(exc if isinstance(exc, Exception) else None)
            raise


def sqlite_file(engine: AsyncEngine) -> str | None:
    """The path of the engine's SQLite database file; None for another engine, an in-memory
    database or a ``file:`` URI (which plain ``sqlite3`` connections do not open alike)."""
    if engine.dialect.name != "sqlite":
        return None
    database = make_url(str(engine.url)).database
    if database and database != ":memory:" and not database.startswith("file:"):
        return database
    return None


def sqlite_try_later(exc: sqlite3.OperationalError) -> bool:
    """The database is busy or locked for now (Python reports extended codes:
    SQLITE_BUSY_RECOVERY is BUSY | 1 << 8)."""
    return exc.sqlite_errorcode & 0xFF in _SQLITE_TRY_LATER


def _plain(type_: TypeEngine[Any]) -> bool:
    """Integers and strings (and PostgreSQL arrays of them) reach the driver as they are."""
    if isinstance(type_, ARRAY):
        return _plain(type_.item_type)
    return isinstance(type_, (Integer, String))
