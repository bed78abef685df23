"""A bulk ``INSERT … ON CONFLICT DO NOTHING RETURNING`` on the database driver itself.

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
- SQLite (a database file): one ``sqlite3`` connection of its own on one thread of its own,
  which runs ``BEGIN IMMEDIATE``, one multi-row ``INSERT … RETURNING`` and ``COMMIT`` in a
  single hop from the event loop. The caller holds the process's SQLite write lock
  (:meth:`app.db.Database.insert_ignore_returning`), so this connection takes its turn with the
  engine's writers as they take theirs with each other.

The statements are still derived from the SQLAlchemy table: its columns' types for the casts,
and each column type's own bind processing for the values (so a time is stored exactly as the
ORM stores it and reads it back).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Table, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from app.plain_reads import driver_connection

Rows = Sequence[Mapping[str, Any]]
Returned = list[tuple[Any, ...]]
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
        self.tail = (
            f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {', '.join(returning)}"
        )
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
        self.sql = f"{shape.head}SELECT * FROM unnest({casts}){shape.tail}"

    async def run(self, driver: Any, rows: Rows) -> Returned:
        records = await driver.fetch(self.sql, *self.shape.column_values(rows))
        return [tuple(record) for record in records]


class _SqliteInsert:
    def __init__(self, shape: _Shape) -> None:
        self.shape = shape
        self._row = "(" + ", ".join("?" * len(shape.columns)) + ")"
        self._sql: dict[int, str] = {}  # by number of rows: a group is at most a few hundred

    def statement(self, rows: Rows) -> tuple[str, list[Any]]:
        count = len(rows)
        sql = self._sql.get(count)
        if sql is None:
            sql = self._sql[count] = (
                f"{self.shape.head}VALUES {', '.join([self._row] * count)}{self.shape.tail}"
            )
        columns = self.shape.column_values(rows)
        return sql, [value for row in zip(*columns, strict=True) for value in row]


class _SqliteWriteThread:
    """One connection on one thread: every statement on it runs there, a transaction per call."""

    def __init__(self, path: str, configure: Callable[[sqlite3.Connection], None]) -> None:
        self._path = path
        self._configure = configure
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vafa-sqlite-write")
        self._conn: sqlite3.Connection | None = None

    async def insert(self, sql: str, params: list[Any]) -> Returned:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._insert, sql, params)

    def _insert(self, sql: str, params: list[Any]) -> Returned:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, cached_statements=512)
            self._configure(conn)
            self._conn = conn
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            returned = conn.execute(sql, params).fetchall()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return [tuple(row) for row in returned]

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PlainWrites:
    """Bulk inserts that skip conflicts, on PostgreSQL or a SQLite file (see the module)."""

    def __init__(
        self, writer: AsyncEngine, configure_sqlite: Callable[[sqlite3.Connection], None]
    ) -> None:
        self._writer = writer
        self._dialect = writer.dialect.name
        self._thread: _SqliteWriteThread | None = None
        self._statements: dict[_Key, _PostgresInsert | _SqliteInsert] = {}
        if self._dialect == "sqlite":
            database = make_url(str(writer.url)).database
            if database and database != ":memory:" and not database.startswith("file:"):
                self._thread = _SqliteWriteThread(database, configure_sqlite)

    @property
    def available(self) -> bool:
        return self._dialect == "postgresql" or self._thread is not None

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
        key = (table.name, tuple(rows[0]), tuple(conflict), tuple(returning))
        statement = self._statements.get(key)
        if self._thread is not None:
            if statement is None:
                statement = self._statements[key] = _SqliteInsert(
                    _Shape(table, key[1], conflict, returning, _SQLITE)
                )
            assert isinstance(statement, _SqliteInsert)
            return await self._thread.insert(*statement.statement(rows))
        if statement is None:
            statement = self._statements[key] = _PostgresInsert(
                _Shape(table, key[1], conflict, returning, _PG), table
            )
        assert isinstance(statement, _PostgresInsert)
        async with driver_connection(self._writer) as driver:
            return await statement.run(driver, rows)

    async def close(self) -> None:
        if self._thread is not None:
            await self._thread.close()
