"""The worker warns at start when PostgreSQL's autovacuum is off: nothing else keeps the
planner statistics its lookups by lists of keys depend on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from app.db import Database
from app.jobs import statistics
from app.jobs.runner import Runner
from app.jobs.statistics import AUTOVACUUM_OFF
from app.state import AppState


class _Recorded:
    """Stands in for the module's logger (structlog's may be cached by an earlier test's
    configuration, out of reach of ``capture_logs``)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, **_: self.lines.append((level, event))


async def _autovacuum(db: Database) -> str | None:
    if db.dialect != "postgresql":
        return None
    async with db.reader.connect() as conn:
        return str(await conn.scalar(text("SELECT current_setting('autovacuum')")))


class TestAutovacuumWarning:
    async def test_worker_start_warns_only_when_autovacuum_is_off(
        self, state: AppState, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        recorded = _Recorded()
        monkeypatch.setattr(statistics, "log", recorded)
        runner = Runner(state.db, state.shops, state.settings, sources=[], periodic=[])
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run_forever(stop))
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(task, 5)
        # SQLite has no autovacuum; PostgreSQL warns once when the server runs without it.
        off = await _autovacuum(state.db) == "off"
        assert recorded.lines == ([("warning", AUTOVACUUM_OFF)] if off else [])
