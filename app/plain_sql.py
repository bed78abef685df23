"""Hot-path statements compiled once and run on the database driver itself, below SQLAlchemy's
execution layer: balance reads, and the group commit of accepted webhook deliveries.

Through SQLAlchemy's async layer each of these is several hops (connection wrapper, greenlet,
result machinery; on SQLite every call a trip to aiosqlite's thread and back through the GIL)
for work that takes the database microseconds; at webhook and widget rates those hops were
most of the request (docs/benchmarks.md). The statements are still derived from SQLAlchemy
constructs (a ``select``, a ``Table``) and compiled once per engine.

- PostgreSQL: a connection from the engine's pool and asyncpg on it, which prepares each text
  once per connection. Reads use the reader pool (autocommit). A bulk insert travels as one
  array per column into ``INSERT … SELECT * FROM unnest(…)``: one statement, atomic and durable
  when it returns, one text whatever the number of rows.
- SQLite file: ``sqlite3`` connections used on the event loop itself, with no busy timeout, so
  they never block it: on ``SQLITE_BUSY`` (another process writing, a WAL recovery) the work
  goes through the engine instead, which waits on its own thread. Reads use a read-only
  connection (in WAL mode a reader never waits for the writer); writes ``BEGIN IMMEDIATE``, a
  multi-row ``INSERT`` and a ``SELECT`` of what it inserted, while the caller holds the
  process's SQLite write lock (:meth:`app.db.Database.insert_ignore_returning`), then the
  ``COMMIT`` on a thread: it waits for the fsync with the GIL released, and the loop parses the
  next requests meanwhile.
- Any other engine, or an in-memory SQLite database: through SQLAlchemy as usual.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg
import orjson
from sqlalchemy import ARRAY, Integer, String, Table, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select
from sqlalchemy.types import TypeEngine

Row = tuple[Any, ...]
Rows = Sequence[Mapping[str, Any]]
Returned = list[tuple[Any, ...]]
AnySelect: TypeAlias = Select[*tuple[Any, ...]]
_Compiled: TypeAlias = tuple[str, tuple[str, ...], dict[str, Any]]
_Key = tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]
_SQLITE_TRY_LATER = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_PROTOCOL)
_DISCONNECTED = (OSError, asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.InterfaceError)
_READ_ATTEMPTS = 3
_PG = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]
_SQLITE = sqlite.pysqlite.dialect()


class TryLater(Exception):
    """The SQLite file is busy for now: run the work through the engine, which waits."""


# -- reads --------------------------------------------------------------------------------------


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


# -- writes -------------------------------------------------------------------------------------


class _Shape:
    """What both engines' inserts share: the columns in order, each with its own bind
    processing (so a time is stored exactly as the ORM stores it), and the ``ON CONFLICT`` and
    ``RETURNING`` clauses."""

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        conflict: Sequence[str],
        returning: Sequence[str],
        dialect: Dialect,
    ) -> None:
        self.columns = tuple(columns)
        self.head = f"INSERT INTO {table.name} ({', '.join(self.columns)}) "
        self.on_conflict = f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
        self.returning = f" RETURNING {', '.join(returning)}"
        self.processors: list[Callable[[Any], Any] | None] = [
            table.c[name].type.bind_processor(dialect) for name in self.columns
        ]

    def column_values(self, rows: Rows) -> list[list[Any]]:
        """One list per column, each value as the driver takes it."""
        out = []
        for name, process in zip(self.columns, self.processors, strict=True):
            values = [row[name] for row in rows]
            out.append([process(v) for v in values] if process is not None else values)
        return out


class _PostgresInsert:
    def __init__(self, shape: _Shape, table: Table) -> None:
        self.shape = shape
        casts = ", ".join(
            f"${i}::{table.c[name].type.compile(dialect=_PG)}[]"
            for i, name in enumerate(shape.columns, start=1)
        )
        self.sql = f"{shape.head}SELECT * FROM unnest({casts}){shape.on_conflict}{shape.returning}"

    async def run(self, driver: Any, rows: Rows) -> Returned:
        records = await driver.fetch(self.sql, *self.shape.column_values(rows))
        return [tuple(record) for record in records]


class _SqliteInsert:
    """``INSERT … VALUES (…), (…) ON CONFLICT DO NOTHING``, and the rows it inserted read back
    as one JSON value: inside ``BEGIN IMMEDIATE`` no one else writes, and SQLite gives a new
    row an id above the largest (until the largest is 2⁶³−1), so the rows inserted are those
    whose ``id`` is above the largest before the insert. (``RETURNING`` would yield them one
    step at a time.)"""

    def __init__(self, shape: _Shape, table: Table, returning: Sequence[str]) -> None:
        id_column = table.c.get("id")
        if (
            id_column is None
            or not id_column.primary_key
            or not isinstance(id_column.type.dialect_impl(_SQLITE), Integer)
        ):
            raise ValueError(f"{table.name} has no INTEGER PRIMARY KEY id (a rowid)")
        for name in returning:
            if not isinstance(table.c[name].type, Integer | String):
                raise ValueError(f"{table.name}.{name} is not an integer or a string")
        self.shape = shape
        self.top = f"SELECT coalesce(max(id), 0) FROM {table.name}"
        fields = ", ".join(returning)
        self.inserted = (
            f"SELECT json_group_array(json_array({fields})) FROM {table.name} WHERE id > ?"
        )
        self._row = "(" + ", ".join("?" * len(shape.columns)) + ")"
        self._sql: dict[int, str] = {}  # by number of rows: a group is at most a few hundred

    def run(self, conn: sqlite3.Connection, rows: Rows) -> Returned:
        count = len(rows)
        sql = self._sql.get(count)
        if sql is None:
            values = ", ".join([self._row] * count)
            sql = self._sql[count] = f"{self.shape.head}VALUES {values}{self.shape.on_conflict}"
        columns = self.shape.column_values(rows)
        params = [value for row in zip(*columns, strict=True) for value in row]
        (top,) = conn.execute(self.top).fetchone()
        conn.execute(sql, params)
        (inserted,) = conn.execute(self.inserted, (top,)).fetchone()
        return [tuple(row) for row in orjson.loads(inserted)]


class PlainWrites:
    """Bulk inserts that skip conflicts, on PostgreSQL or a SQLite file (see the module)."""

    def __init__(
        self, writer: AsyncEngine, configure_sqlite: Callable[[sqlite3.Connection], None]
    ) -> None:
        self._writer = writer
        self._dialect = writer.dialect.name
        self._sqlite_path = sqlite_file(writer)
        self._configure_sqlite = configure_sqlite
        self._sqlite: sqlite3.Connection | None = None
        # The last COMMIT handed to a thread: the connection is not used again until it is over,
        # even when its caller went away (cancelled) meanwhile.
        self._committing: asyncio.Future[None] | None = None
        self._sqlite_statements: dict[_Key, _SqliteInsert] = {}
        self._pg_statements: dict[_Key, _PostgresInsert] = {}

    @property
    def available(self) -> bool:
        return self._dialect == "postgresql" or self._sqlite_path is not None

    async def insert_ignore_returning(
        self,
        table: Table,
        rows: Rows,
        conflict: Sequence[str],
        returning: Sequence[str],
    ) -> Returned:
        """Insert ``rows`` (every row with the same keys: the columns) in one transaction,
        skipping those that conflict on ``conflict``; the ``returning`` columns of the rows
        inserted. On SQLite the caller must hold the process's write lock; :class:`TryLater`
        when another process holds the database's."""
        if not rows:
            raise ValueError("no rows to insert")
        key = (table.name, tuple(rows[0]), tuple(conflict), tuple(returning))
        if self._sqlite_path is not None:
            insert = self._sqlite_statements.get(key)
            if insert is None:
                insert = self._sqlite_statements[key] = _SqliteInsert(
                    _Shape(table, key[1], conflict, returning, _SQLITE), table, returning
                )
            return await self._sqlite_transaction(lambda conn: insert.run(conn, rows))
        statement = self._pg_statements.get(key)
        if statement is None:
            statement = self._pg_statements[key] = _PostgresInsert(
                _Shape(table, key[1], conflict, returning, _PG), table
            )
        async with driver_connection(self._writer) as driver:
            return await statement.run(driver, rows)

    async def close(self) -> None:
        await self._commit_done()
        self._close_sqlite()

    def _close_sqlite(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None

    async def _commit_done(self) -> None:
        if self._committing is not None and not self._committing.done():
            await asyncio.wait([self._committing])  # its outcome went to its own caller

    async def _sqlite_transaction(self, work: Callable[[sqlite3.Connection], Returned]) -> Returned:
        await self._commit_done()
        if self._sqlite is not None and self._sqlite.in_transaction:
            # A COMMIT failed and so did its ROLLBACK: start again on a new connection.
            self._close_sqlite()
        try:
            if self._sqlite is None:
                self._sqlite = self._connect_sqlite()
            conn = self._sqlite
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if sqlite_try_later(exc):
                raise TryLater from exc
            raise
        try:
            result = work(conn)
        except BaseException:
            _rollback(conn)
            raise
        committing = asyncio.ensure_future(asyncio.to_thread(_commit, conn))
        # An outcome nobody is left to hear of (its caller went away) is not an error to log.
        committing.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._committing = committing
        # Shielded: a caller that goes away must not leave the transaction open.
        await asyncio.shield(committing)
        return result

    def _connect_sqlite(self) -> sqlite3.Connection:
        assert self._sqlite_path is not None
        conn = sqlite3.connect(
            self._sqlite_path,
            isolation_level=None,
            cached_statements=512,
            timeout=0,
            check_same_thread=False,  # the COMMIT runs on a thread, one use at a time
        )
        try:
            self._configure_sqlite(conn)
            conn.execute("PRAGMA busy_timeout=0")  # the engine's settings set one
        except BaseException:
            conn.close()
            raise
        return conn


def _commit(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)  # a failed COMMIT (a full disk) may leave the transaction open
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


# -- shared -------------------------------------------------------------------------------------


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
