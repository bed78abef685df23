"""The worker warns at start when PostgreSQL's autovacuum is off: nothing else keeps the
planner statistics its lookups by lists of keys depend on."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from structlog.testing import capture_logs

from app.db import Database
from app.jobs.runner import Runner
from app.jobs.statistics import AUTOVACUUM_OFF
from app.state import AppState


async def _autovacuum(db: Database) -> str | None:
    if db.dialect != "postgresql":
        return None
    async with db.reader.connect() as conn:
        return str(await conn.scalar(text("SELECT current_setting('autovacuum')")))


class TestAutovacuumWarning:
    async def test_worker_start_warns_only_when_autovacuum_is_off(self, state: AppState) -> None:
        runner = Runner(state.db, state.shops, state.settings, sources=[], periodic=[])
        stop = asyncio.Event()
        with capture_logs() as logs:
            task = asyncio.create_task(runner.run_forever(stop))
            await asyncio.sleep(0.2)
            stop.set()
            await asyncio.wait_for(task, 5)
        events = [entry["event"] for entry in logs]
        assert "worker started" in events
        assert "worker stopped" in events
        warned = AUTOVACUUM_OFF in events
        # SQLite has no autovacuum; PostgreSQL warns exactly when the server runs without it.
        assert warned == (await _autovacuum(state.db) == "off")
        if warned:
            (entry,) = [entry for entry in logs if entry["event"] == AUTOVACUUM_OFF]
            assert entry["log_level"] == "warning"
