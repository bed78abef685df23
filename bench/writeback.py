"""Balance write-back jobs against the fake Shopify, beside the fake store's own capacity.

    python -m bench.writeback --workers 1 --members 1000

As ``bench.redemptions`` sets up (a fresh ``vafa_bench_redeem``, the fake Shopify in a process
of its own, ``vafa serve`` + ``--workers`` ``vafa worker``), then gives ``--members`` members
points with one admin adjustment each, with no worker running: each enqueues one
``balance.write`` job. Then the workers start; jobs/s runs from their start (start-up
included) until every write-back job is done (what each writes is tested in
tests/sync/test_writeback.py). The floor: the same number of ``metafieldsSet``
writes sent straight to the fake by the store client over the same connections.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

from app.crypto import new_secret_key
from bench.common import recreate_pg_database, scalar, serve_vafa, vafa, vafa_env, workers
from bench.redemptions import (
    _gather_limited,
    add_shop,
    fake_store,
    seed_members,
    store_client,
    wait_for_count,
)

POINTS = 250


async def store_floor(store_url: str, members: int, connections: int) -> float:
    async with httpx.AsyncClient(timeout=30) as http:
        client = store_client(http, store_url)

        async def one(n: int) -> None:
            await client.set_balance(str(n + 1), POINTS, None)

        started = time.perf_counter()
        await _gather_limited(members, connections, one)
        return members / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--server", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    url = recreate_pg_database(args.server, "vafa_bench_redeem")
    env = vafa_env(url, new_secret_key(), VAFA_WRITEBACK_DELAY_SECONDS="0")
    vafa(["migrate"], env)
    with (
        tempfile.TemporaryDirectory(prefix="vafa-bench-") as tmp,
        fake_store(args.members) as store,
    ):
        floor = asyncio.run(store_floor(store, args.members, args.connections))
        shop = add_shop(env, store)
        log = Path(tmp) / "vafa.log"
        with serve_vafa(env, log) as server:  # no worker yet: the jobs wait
            asyncio.run(seed_members(server.url, shop["admin_api_key"], args.members, POINTS))
        sql = "SELECT count(*) FROM jobs WHERE kind = 'balance.write' AND status = 'done'"
        with workers(env, args.workers, log):
            done, elapsed = wait_for_count(url, sql, args.members, args.timeout)
        failed = scalar(url, "SELECT count(*) FROM jobs WHERE status = 'failed'")
    print(
        f"workers {args.workers}: {args.members} write-back jobs waiting; all done "
        f"{elapsed:.1f} s after the workers started (their start-up included)\n"
        f"  vafa:  {done / elapsed:,.0f} write-back jobs/s end to end (done {done}, "
        f"failed {failed})\n"
        f"  floor: {floor:,.0f} balance writes/s straight to the fake store "
        f"({args.connections} connections)\n"
        f"  ratio: {done / elapsed / floor:.2f}"
    )
    if done != args.members or failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
