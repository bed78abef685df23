"""Waking the ``POST …/redemptions`` that waits for its code, as soon as the code's job has
settled the redemption (issued or failed), instead of reading the redemption again and again.

The transaction that settles a redemption :func:`announce`\\ s it: at its commit, requests of
this process waiting for it wake (the worker inside ``vafa serve``), and on PostgreSQL a
``NOTIFY`` reaches the other processes, whose :func:`listener` wakes theirs (``vafa serve``
beside ``vafa worker``). A waiting request still reads again every ``FALLBACK_SECONDS``, so a
wake-up lost (a listener reconnecting, a process without one) only makes it slower."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.jobs.notify import Listener, notify

CHANNEL = "vafa_redemptions"
FALLBACK_SECONDS = 0.5

# This process's waiting requests, by "shop_id:redemption_id".
_waiting: dict[str, set[asyncio.Event]] = {}


def _key(shop_id: int, redemption_id: int) -> str:
    return f"{shop_id}:{redemption_id}"


def wake(key: str) -> None:
    for settled in _waiting.get(key, ()):
        settled.set()


@contextlib.contextmanager
def waiting(shop_id: int, redemption_id: int) -> Iterator[asyncio.Event]:
    """An event set when the redemption may have been settled, for the block."""
    key, settled = _key(shop_id, redemption_id), asyncio.Event()
    _waiting.setdefault(key, set()).add(settled)
    try:
        yield settled
    finally:
        events = _waiting[key]
        events.discard(settled)
        if not events:
            del _waiting[key]


async def announce(session: AsyncSession, shop_id: int, redemption_id: int) -> None:
    """Wake whoever waits for the redemption once this session's transaction commits."""
    key = _key(shop_id, redemption_id)
    await notify(session, CHANNEL, key)
    event.listen(session.sync_session, "after_commit", lambda _session: wake(key), once=True)


def listener(db: Database) -> Listener | None:
    """The other processes' announcements, on PostgreSQL (else None: nothing to listen to)."""
    return None if db.is_sqlite else Listener(db.url, {CHANNEL: wake})
