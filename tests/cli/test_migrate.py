"""`vafa migrate` as containers run it: several processes at once on an empty database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]


async def _scalar(url: str, sql: str) -> object:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar_one()
    finally:
        await engine.dispose()


def test_three_processes_migrating_an_empty_database_at_once_all_succeed(
    empty_database: str,
) -> None:
    env = {**os.environ, "VAFA_DATABASE_URL": empty_database, "VAFA_SECRET_KEY": SECRET_KEY}
    command = [sys.executable, "-c", "from app.cli import cli; cli()", "migrate"]
    procs = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(3)
    ]
    outputs = [proc.communicate(timeout=120)[0].decode() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], "\n---\n".join(outputs)
    heads = subprocess.run(
        [sys.executable, "-m", "alembic", "heads"], cwd=ROOT, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    head = heads.stdout.split()[0]
    assert asyncio.run(_scalar(empty_database, "SELECT version_num FROM alembic_version")) == head
