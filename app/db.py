"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production).

SQLite: WAL so readers never wait for the writer; synchronous=FULL because an accepted webhook
or a points movement must survive a power cut; every write transaction starts with
BEGIN IMMEDIATE so that a check made inside it (a balance, an idempotency key) still holds at
commit. Reads use a second engine in autocommit, so they never queue behind writers; every
read is a single statement (``ledger verify`` included), so none needs a multi-statement
snapshot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.schema import Table

from app.plain_sql import AnySelect, PlainReads, PlainWrites, Row, TryLater

SQLITE_BUSY_TIMEOUT_MS = 30_000

# PostgreSQL pools: a process has two (writer, reader), so it opens up to 2 × (8 + 2) = 20
# connections; two `vafa serve` and two `vafa worker` stay within 80 of the server's default
# max_connections of 100. One process is bound by one core long before 10 connections per pool.
POOL_SIZE = 8
POOL_MAX_OVERFLOW = 2
# A request that waits longer than this for a connection is answered 503 with Retry-After: a
# burst queues and is served, an overload that lasts is shed instead of growing without end.
POOL_TIMEOUT_SECONDS = 10.0


def is_sqlite_url(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_pragmas(dbapi_connection: Any) -> None:
    # Let SQLAlchemy's begin event below issue BEGIN itself, instead of the driver's implicit one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def make_engine(url: str, *, readonly: bool = False, **kwargs: Any) -> AsyncEngine:
    # A failed statement's error text never carries its bound values (a customer's e-mail).
    kwargs.setdefault("hide_parameters", True)
    if readonly:
        # Reads run in autocommit: no transaction is left to roll back when a connection goes
        # back to the pool, so no ROLLBACK is sent (a hop to SQLite's thread, a round trip).
        kwargs["pool_reset_on_return"] = None
    kwargs.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
    if not is_sqlite_url(url):
        # Most connections are kept (an overflow one is closed when it is returned, and opening
        # PostgreSQL connections at request rate costs more than serving).
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_MAX_OVERFLOW)
        engine = create_async_engine(url, **kwargs)
        # A bulk INSERT (executemany) as multi-row VALUES statements, as SQLAlchemy already does
        # when it needs RETURNING: asyncpg's own executemany sends one Bind/Execute per row,
        # and the server's per-statement cost then dominates a batch of ledger postings.
        engine.dialect.use_insertmanyvalues_wo_returning = True
        return engine
    # A fixed set of connections, each with its own driver thread: an overflow connection
    # would be opened (a thread, the PRAGMAs) and closed again for every burst of requests.
    # Writers take turns anyway (one SQLite writer), readers share WAL snapshots.
    kwargs["pool_size"] = 8 if readonly else 4
    kwargs["max_overflow"] = 0

    engine = create_async_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        _sqlite_pragmas(dbapi_connection)

    if not readonly:

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """The engines of one process: ``writer`` for transactions that change data, ``reader`` for
    reads (the same engine on PostgreSQL)."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = POOL_SIZE,
        max_overflow: int = POOL_MAX_OVERFLOW,
        pool_timeout: float = POOL_TIMEOUT_SECONDS,
    ) -> None:
        self.url = url
        self.is_sqlite = is_sqlite_url(url)
        pools: dict[str, Any] = {
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_timeout": pool_timeout,
        }
        self.writer = make_engine(url, **pools)
        self.dialect: str = self.writer.dialect.name
        # Reads are single statements in autocommit (no BEGIN/COMMIT round trips); on
        # PostgreSQL a separate pool that is autocommit from the start, so no connection has
        # its isolation level switched and switched back on every request.
        self.reader = make_engine(
            url,
            readonly=True,
            **({} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"}),
            **pools,
        )
        self._write_sessions = async_sessionmaker(self.writer, expire_on_commit=False)
        # SQLite has one writer at a time. Queueing writers here, in order, is fairer and faster
        # than letting them poll the database's busy handler.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        self._read_sessions = async_sessionmaker(self.reader, expire_on_commit=False)
        self._plain = PlainReads(self.reader)
        self._writes = PlainWrites(self.writer, configure_sqlite=_sqlite_pragmas)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error."""
        async with self._serialized(), self._write_sessions() as session, session.begin():
            yield session
            # Work that must be done last, right before the commit (the ledger's system
            # account updates, see app.ledger.locks).
            for hook in session.info.pop("before_commit", []):
                await hook(session)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read_sessions() as session, session.begin():
            yield session

    async def fetch_plain(self, statement: AnySelect, params: dict[str, Any]) -> list[Row]:
        """A hot-path read of plain integers and strings, on the driver itself (see
        :mod:`app.plain_sql`): rows as tuples in the statement's column order."""
        return await self._plain.fetch(statement, params)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection in a write transaction: for hot paths that want no ORM."""
        async with self._serialized(), self.writer.begin() as conn:
            yield conn

    async def insert_ignore_returning(
        self,
        table: Table,
        rows: Sequence[Mapping[str, Any]],
        conflict: Sequence[str],
        returning: Sequence[str],
    ) -> list[tuple[Any, ...]]:
        """Insert ``rows`` in one transaction, skipping those that conflict on ``conflict``;
        the ``returning`` columns of the rows inserted. On the driver itself where it can be
        (:mod:`app.plain_sql`), else through SQLAlchemy (an in-memory or ``file:`` URI SQLite
        database, or a SQLite file another process is writing to: the engine waits for it)."""
        if self._writes.available:
            async with self._serialized():
                try:
                    return await self._writes.insert_ignore_returning(
                        table, rows, conflict, returning
                    )
                except TryLater:
                    pass
        async with self.connect() as conn:
            # An executemany, which SQLAlchemy sends as one multi-row statement.
            statement = insert_ignore(table, conn.dialect.name).returning(
                *(table.c[name] for name in returning)
            )
            return [tuple(row) for row in await conn.execute(statement, list(rows))]

    @asynccontextmanager
    async def _serialized(self) -> AsyncIterator[None]:
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    async def dispose(self) -> None:
        self._plain.close()
        try:
            await self._writes.close()
        finally:
            await self.writer.dispose()
            await self.reader.dispose()


def dialect_insert(table: Any, dialect_name: str) -> Any:
    """The engine's own ``INSERT`` for ``table`` (a Table or a model), the one with
    ``ON CONFLICT`` clauses."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table)


def insert_ignore(table: Table, dialect_name: str) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` for the engine in use.

    Used wherever a concurrent writer may insert the same key: the loser sees no row inserted
    instead of an error that would abort a PostgreSQL transaction."""
    return dialect_insert(table, dialect_name).on_conflict_do_nothing()


def one_of(
    column: InstrumentedAttribute[Any] | ColumnElement[Any],
    values: Sequence[Any],
    dialect_name: str,
) -> ColumnElement[bool]:
    """``column IN values``, written so that PostgreSQL sees one statement text whatever the
    number of values (``= ANY(array)``): a new IN length is a new prepared statement and plan."""
    if dialect_name == "postgresql":
        item = column.type
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(item)))
    return column.in_(list(values))
