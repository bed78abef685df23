"""Wake-ups across processes on PostgreSQL: ``NOTIFY`` in a transaction, ``LISTEN`` in another
process (``vafa serve`` and ``vafa worker``).

A notification is sent when its transaction commits (never for one rolled back), to every
connection listening on the channel. It is only a hint that something may be ready: whoever
waits for it keeps a slower timer too, so a notification lost while a listener reconnects costs
latency, never work. SQLite has no such thing, and needs none: its worker runs inside
``vafa serve``, woken by asyncio events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
import structlog
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.logs import log_failure

log = structlog.get_logger(__name__)

# A job was enqueued that someone waits for (a redemption's code): the worker need not sleep.
JOBS = "vafa_jobs"
# How long a lost listening connection waits before it connects again.
RECONNECT_SECONDS = 1.0
_PG = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]


async def notify(session: AsyncSession, channel: str, payload: str = "") -> None:
    """Notify ``channel`` when the session's transaction commits (PostgreSQL; else nothing)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(channel, payload)))


def connect_args(url: str) -> dict[str, Any]:
    """``asyncpg.connect``'s arguments for a SQLAlchemy URL, made as SQLAlchemy's engine makes
    them (options in the URL's query, such as ``?ssl=require``, included)."""
    _args, kwargs = _PG.create_connect_args(make_url(url))  # type: ignore[no-untyped-call]
    for own in ("prepared_statement_cache_size", "prepared_statement_name_func"):
        kwargs.pop(own, None)  # SQLAlchemy's, not asyncpg's
    return dict(kwargs)


class Listener:
    """One connection of this process that listens on ``channels`` and calls each one's
    callback with the payload; connected again after a loss."""

    def __init__(self, url: str, channels: Mapping[str, Callable[[str], None]]) -> None:
        self._connect_args = connect_args(url)
        self._channels = dict(channels)
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()  # set while the connection listens (tests wait on it)

    def start(self) -> Listener:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="vafa-listener")
        return self

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log_failure(log, "listening for notifications failed", exc)
            self.listening.clear()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen(self) -> None:
        conn = await asyncpg.connect(**self._connect_args)
        try:
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn: lost.set())
            for channel, callback in self._channels.items():
                await conn.add_listener(channel, _deliver(callback))
            self.listening.set()
            await lost.wait()
        finally:
            with contextlib.suppress(Exception):  # already gone
                await conn.close(timeout=2)


def _deliver(callback: Callable[[str], None]) -> Callable[[object, int, str, str], None]:
    def on_notification(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        callback(payload)

    return on_notification
