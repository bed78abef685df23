"""A bulk ``INSERT … ON CONFLICT DO NOTHING`` that reports the rows it inserted, on the
database driver itself.

Group commit (:mod:`app.webhooks.group_commit`) stores every accepted delivery this way.
Through SQLAlchemy the same write was BEGIN, a multi-row INSERT, COMMIT: three round trips (on
SQLite three hops to aiosqlite's thread and back through the GIL, a fourth to fetch the rows),
and SQLAlchemy's per-statement and per-row work on top, which together cost more than the rest
of a webhook acknowledgement. Measured with ``bench.webhook_ack`` and the store stubbed out: on
PostgreSQL the store cost ~0.57× → 0.30× of the bare endpoint's rate before this module; on
SQLite it was ~285 µs of the ~660 µs an acknowledgement took, against ~60 µs for SQLite itself
to insert and fsync an 8 KB row in a group.

- PostgreSQL: the rows travel as one array per column into ``INSERT … SELECT * FROM
  unnest(…)`` on asyncpg: a single statement, so atomic and durable when it returns
  (autocommit, ``synchronous_commit`` on), one text, prepared once per connection, whatever
  the number of rows.
- SQLite (a database file): ``BEGIN IMMEDIATE``, one multi-row ``INSERT`` and one ``SELECT`` of
  what it inserted on the event loop, on a ``sqlite3`` connection of its own, and the
  ``COMMIT`` (the fsync) on a thread (:class:`SqliteWriter`). The caller holds the
  process's SQLite write lock (:meth:`app.db.Database.insert_ignore_returning`), so these
  writes take their turn with the engine's writers as they take theirs with each other.

The statements are still derived from the SQLAlchemy table: its columns' types for the casts,
and each column type's own bind processing for the values (so a time is stored exactly as the
ORM stores it and reads it back).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson
from sqlalchemy import Integer, String, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from app.plain_reads import driver_connection, sqlite_file, sqlite_try_later

Rows = Sequence[Mapping[str, Any]]
Returned = list[tuple[Any, ...]]
_T = TypeVar("_T")
_PG = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]
_SQLITE = sqlite.pysqlite.dialect()
_Key = tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]


class _Shape:
    """What both engines' statements share: the columns in order, each with its bind
    processor, and the ``ON CONFLICT`` and ``RETURNING`` clauses."""

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
    as one JSON value.

    Not ``RETURNING``, which yields its rows one step at a time: run on a thread, each step
    gives up the GIL and takes it back, and each time it takes it back the event loop, busy
    parsing requests, has to stop and wait. Inside ``BEGIN IMMEDIATE`` no one else writes,
    and SQLite gives a new row an id above the largest (until the largest is 2⁶³−1), so the
    rows inserted are exactly those whose ``id`` is above the largest before the insert: five
    steps in all, whatever the number of rows."""

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

    def statement(self, rows: Rows) -> tuple[str, list[Any]]:
        count = len(rows)
        sql = self._sql.get(count)
        if sql is None:
            values = ", ".join([self._row] * count)
            sql = self._sql[count] = f"{self.shape.head}VALUES {values}{self.shape.on_conflict}"
        columns = self.shape.column_values(rows)
        return sql, [value for row in zip(*columns, strict=True) for value in row]

    def run(self, conn: sqlite3.Connection, rows: Rows) -> Returned:
        """The statements, inside the write transaction :class:`SqliteWriter` holds open."""
        sql, params = self.statement(rows)
        (top,) = conn.execute(self.top).fetchone()
        conn.execute(sql, params)
        (inserted,) = conn.execute(self.inserted, (top,)).fetchone()
        return [tuple(row) for row in orjson.loads(inserted)]


class SqliteWriter:
    """Runs write transactions on a SQLite file: the statements on the event loop, the
    ``COMMIT`` on a thread.

    The statements are work for the CPU, quicker on the loop than handed to a thread and back:
    each hop gives up the GIL and waits to take it back from the busy loop (with whole
    transactions on a thread, acknowledgements once ran at 0.49× the bare endpoint's rate
    instead of 0.53×). The ``COMMIT`` is waiting: it writes the transaction's pages to the WAL
    and fsyncs it, with the GIL released throughout; measured under ``bench.webhook_ack``,
    0.59 ms for a group of a dozen 8 KB deliveries against 0.18 ms for its statements. On the
    thread, the loop parses the next requests meanwhile, and a slow disk no longer stands it
    still. Nobody is answered before the ``COMMIT`` returns.

    The loop's connection has no busy timeout: a transaction that finds the database locked
    by another process (a ``vafa`` command) is run whole on the thread instead, on a
    connection that waits its turn."""

    def __init__(self, path: str, configure: Callable[[sqlite3.Connection], None]) -> None:
        self._path = path
        self._configure = configure
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vafa-sqlite-write")
        self._on_loop: sqlite3.Connection | None = None
        self._on_thread: sqlite3.Connection | None = None
        # The last work handed to the thread (a COMMIT on the loop's connection, or a whole
        # transaction on the thread's): no write starts until it is over, even when its
        # caller has gone away (cancelled) in the meantime.
        self._on_thread_work: asyncio.Future[Any] | None = None
        # Held by each write and by close(), so that close() cannot come between a write's
        # wait for the thread and its use of the loop's connection.
        self._turn = asyncio.Lock()
        self._closed = False

    def _connect(self, *, waits: bool) -> sqlite3.Connection:
        """A connection with the engine's settings; with ``waits`` false, one that never waits
        for a lock (it answers SQLITE_BUSY at once, its set-up included) and that the thread
        may use for its ``COMMIT``."""
        conn = sqlite3.connect(
            self._path,
            isolation_level=None,
            cached_statements=512,
            timeout=30 if waits else 0,
            check_same_thread=waits,
        )
        try:
            self._configure(conn)
            if not waits:
                conn.execute("PRAGMA busy_timeout=0")  # the engine's settings set one
        except BaseException:
            conn.close()
            raise
        return conn

    async def run(self, work: Callable[[sqlite3.Connection], Returned]) -> Returned:
        """``work`` in one write transaction, committed (durable) when this returns."""
        async with self._turn:
            await self._thread_idle()
            if self._closed:
                raise RuntimeError("the SQLite writer is closed")
            if self._on_loop is not None and self._on_loop.in_transaction:
                # A COMMIT failed and so did its ROLLBACK: start again on a new connection.
                self._on_loop.close()
                self._on_loop = None
            try:
                if self._on_loop is None:
                    self._on_loop = self._connect(waits=False)
                conn = self._on_loop
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if not sqlite_try_later(exc):
                    raise
                return await self._to_thread(self._whole_on_thread, work)
            try:
                result = work(conn)
            except BaseException:
                _rollback(conn)
                raise
            await self._to_thread(_commit, conn)
            return result

    async def _to_thread(self, function: Callable[..., _T], *args: Any) -> _T:
        """``function(*args)`` on the thread. Shielded: a caller that goes away does not
        cancel it (a COMMIT not yet started would leave the transaction open), and the next
        write waits for it all the same."""
        work = asyncio.wrap_future(self._executor.submit(function, *args))
        # An outcome nobody is left to hear of (its caller went away) is not an error to log.
        work.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._on_thread_work = work
        return await asyncio.shield(work)

    async def _thread_idle(self) -> None:
        work = self._on_thread_work
        if work is not None and not work.done():
            # Its outcome went to its own caller; this one only waits for the thread.
            await asyncio.wait([work])

    def _whole_on_thread(self, work: Callable[[sqlite3.Connection], Returned]) -> Returned:
        if self._on_thread is None:
            self._on_thread = self._connect(waits=True)
        conn = self._on_thread
        conn.execute("BEGIN IMMEDIATE")  # waits (busy timeout) for the other process
        try:
            result = work(conn)
        except BaseException:
            _rollback(conn)
            raise
        _commit(conn)
        return result

    async def close(self) -> None:
        async with self._turn:
            if self._closed:
                return
            self._closed = True
            await self._thread_idle()
            if self._on_loop is not None:
                self._on_loop.close()
                self._on_loop = None
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._close_thread)
            self._executor.shutdown(wait=True)

    def _close_thread(self) -> None:
        if self._on_thread is not None:
            self._on_thread.close()
            self._on_thread = None


def _commit(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)  # a failed COMMIT (a full disk) may leave the transaction open
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class PlainWrites:
    """Bulk inserts that skip conflicts, on PostgreSQL or a SQLite file (see the module)."""

    def __init__(
        self, writer: AsyncEngine, configure_sqlite: Callable[[sqlite3.Connection], None]
    ) -> None:
        self._writer = writer
        self._dialect = writer.dialect.name
        path = sqlite_file(writer)
        self._sqlite = SqliteWriter(path, configure_sqlite) if path is not None else None
        self._sqlite_statements: dict[_Key, _SqliteInsert] = {}
        self._pg_statements: dict[_Key, _PostgresInsert] = {}

    @property
    def available(self) -> bool:
        return self._dialect == "postgresql" or self._sqlite is not None

    async def insert_ignore_returning(
        self,
        table: Table,
        rows: Rows,
        conflict: Sequence[str],
        returning: Sequence[str],
    ) -> Returned:
        """Insert ``rows`` (every row with the same keys: the columns) in one transaction,
        skipping those that conflict on ``conflict``; the ``returning`` columns of the rows
        inserted. On SQLite the caller must hold the process's write lock."""
        if not rows:
            raise ValueError("no rows to insert")
        key = (table.name, tuple(rows[0]), tuple(conflict), tuple(returning))
        if self._sqlite is not None:
            insert = self._sqlite_statements.get(key)
            if insert is None:
                insert = self._sqlite_statements[key] = _SqliteInsert(
                    _Shape(table, key[1], conflict, returning, _SQLITE), table, returning
                )
            return await self._sqlite.run(lambda conn: insert.run(conn, rows))
        statement = self._pg_statements.get(key)
        if statement is None:
            statement = self._pg_statements[key] = _PostgresInsert(
                _Shape(table, key[1], conflict, returning, _PG), table
            )
        async with driver_connection(self._writer) as driver:
            return await statement.run(driver, rows)

    async def close(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.close()
