"""Group commit for accepted deliveries.

Each delivery must be durable before it is acknowledged, and a commit costs an fsync (SQLite)
or a round trip and a WAL flush (PostgreSQL). Deliveries that arrive while a write is under way
are written together by the next one: one multi-row ``INSERT … ON CONFLICT DO NOTHING
RETURNING`` and one commit for the whole group, after which each waiting request learns its own
outcome. Nobody is answered before the commit that holds their row."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from app.db import Database, insert_ignore

MAX_ROWS = 200
MAX_BYTES = 8 * 1024 * 1024


@dataclass(slots=True)
class _Waiting:
    row: dict[str, Any]
    future: asyncio.Future[int | None]


class GroupWriter:
    def __init__(self, db: Database, table: Table) -> None:
        self._db = db
        self._table = table
        self._queue: list[_Waiting] = []
        self._task: asyncio.Task[None] | None = None

    async def insert(self, row: dict[str, Any]) -> int | None:
        """Store ``row`` unless its (shop_id, dedupe_key) exists: returns its new id, or None
        for a duplicate."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(row, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def close(self) -> None:
        if self._task is not None:
            await self._task

    async def _drain(self) -> None:
        while self._queue:
            group = self._take()
            try:
                ids = await self._write([w.row for w in group])
            except BaseException as exc:
                for waiting in group:
                    if not waiting.future.done():
                        waiting.future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for waiting, event_id in zip(group, ids, strict=True):
                if not waiting.future.done():  # a caller that went away needs no answer
                    waiting.future.set_result(event_id)

    def _take(self) -> list[_Waiting]:
        size = 0
        count = 0
        for waiting in self._queue:
            size += len(waiting.row["body"])
            if count and (count >= MAX_ROWS or size > MAX_BYTES):
                break
            count += 1
        group, self._queue = self._queue[:count], self._queue[count:]
        return group

    async def _write(self, rows: list[dict[str, Any]]) -> list[int | None]:
        # Two deliveries of one event in the same group: only the first is inserted.
        first: dict[tuple[int, str], int] = {}
        unique: list[dict[str, Any]] = []
        for index, row in enumerate(rows):
            key = (row["shop_id"], row["dedupe_key"])
            if key not in first:
                first[key] = index
                unique.append(row)
        async with self._db.connect() as conn:
            # An executemany (compiled once, sent as one multi-row statement); rows a conflict
            # skipped return nothing, so results are matched by key, not by position.
            statement = insert_ignore(self._table, conn.dialect.name).returning(
                self._table.c.shop_id, self._table.c.dedupe_key, self._table.c.id
            )
            result = await conn.execute(statement, unique)
            inserted = {(r.shop_id, r.dedupe_key): r.id for r in result}
        return [
            inserted.get(key) if first[key] == index else None
            for index, key in enumerate((row["shop_id"], row["dedupe_key"]) for row in rows)
        ]
