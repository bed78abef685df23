"""Redemptions end to end against the fake Shopify, beside the fake store's own capacity.

    python -m bench.redemptions --workers 1
    python -m bench.redemptions --workers 2 --redemptions 2000
    python -m bench.redemptions --in-process    # the worker inside vafa serve

Creates ``--database`` (``vafa_bench_redeem``) afresh on the PostgreSQL server, migrates it,
starts the fake Shopify (tests/fakes, a real HTTP server in a process of its own, with a cost
bucket that never runs dry: its capacity, not its rate limit, is what is measured beside Vafa),
adds a shop that talks to it, gives ``--members`` members points with the admin API, creates a
reward, then starts ``vafa serve`` and ``--workers`` ``vafa worker`` processes (as production
runs them) and sends ``--redemptions`` redemptions over ``--connections`` connections.
Redemptions/s runs from the first request until the last redemption is ``issued`` (the code
exists on the store and the points are captured). Then it checks that every redemption was
issued once, that the fake holds every code, and that ``vafa ledger verify`` is clean.

The floor: the same number of codes created straight on the fake store by the store client over
the same number of connections (what the store itself can take from one Python client).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from app.connectors.shopify.client import ShopifyClient
from app.connectors.shopify.tokens import FixedToken
from app.connectors.store import DiscountKind, DiscountSpec
from app.crypto import new_secret_key
from app.orm import utcnow
from bench.common import (
    fake_store,
    query,
    recreate_pg_database,
    scalar,
    serve_vafa,
    vafa,
    vafa_env,
    workers,
)
from tests.fakes.shopify import DEFAULT_TOKEN

DOMAIN = "vafa-bench-redeem.myshopify.com"
POINTS_COST = 100


async def _gather_limited(count: int, connections: int, one: Any) -> list[Any]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)
    results: list[Any] = []

    async def worker() -> None:
        while not queue.empty():
            results.append(await one(queue.get_nowait()))

    await asyncio.gather(*(worker() for _ in range(connections)))
    return results


def store_client(http: httpx.AsyncClient, store_url: str) -> ShopifyClient:
    return ShopifyClient(http, api_url=store_url, tokens=FixedToken(DEFAULT_TOKEN))


def add_shop(env: dict[str, str], store_url: str) -> dict[str, Any]:
    """A Shopify shop that talks to the fake store: what `vafa shop add-shopify` printed."""
    shop: dict[str, Any] = json.loads(
        vafa(
            ["shop", "add-shopify", "--domain", DOMAIN, "--access-token", DEFAULT_TOKEN,
             "--api-secret", "bench", "--api-url", store_url],
            env,
        )
    )  # fmt: skip
    return shop


def wait_for_count(url: str, sql: str, count: int, timeout: float) -> tuple[int, float]:
    """Poll ``sql`` (a count) until it reaches ``count`` or ``timeout``; the last count and
    the seconds waited."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    found = 0
    while time.monotonic() < deadline:
        found = scalar(url, sql)
        if found >= count:
            break
        time.sleep(0.05)
    return found, time.perf_counter() - started


async def store_floor(store_url: str, count: int, connections: int) -> float:
    """Codes/s the fake store takes straight from the store client."""
    async with httpx.AsyncClient(timeout=30) as http:
        client = store_client(http, store_url)
        now = utcnow()

        async def one(n: int) -> None:
            await client.create_discount(
                DiscountSpec(
                    code=f"FLOOR-{n}", title="floor", kind=DiscountKind.AMOUNT_OFF, value=500,
                    currency="USD", exponent=2, customer_id="1", customer_email=None,
                    starts_at=now, ends_at=now + timedelta(days=30),
                )
            )  # fmt: skip

        started = time.perf_counter()
        await _gather_limited(count, connections, one)
        return count / (time.perf_counter() - started)


async def codes_on_store(store_url: str, codes: list[str]) -> int:
    async with httpx.AsyncClient(timeout=30) as http:
        client = store_client(http, store_url)
        found = [await client.find_discount(code) for code in codes]
        return sum(1 for discount in found if discount is not None)


async def redeem_all(
    base: str, key: str, reward_id: int, members: int, count: int, connections: int
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as api:

        async def one(n: int) -> None:
            r = await api.post(
                f"/api/v1/members/{n % members + 1}/redemptions",
                json={"reward_id": reward_id, "idempotency_key": f"bench-{n}"},
            )
            if r.status_code not in (201, 202):
                raise RuntimeError(f"redemption {n}: {r.status_code} {r.text}")

        await _gather_limited(count, connections, one)


async def seed_members(base: str, key: str, members: int, points: int) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as api:

        async def one(n: int) -> None:
            r = await api.post(
                f"/api/v1/members/{n + 1}/adjustments",
                json={"points": points, "reason": "bench", "idempotency_key": f"seed-{n}"},
            )
            if r.status_code not in (200, 201):
                raise RuntimeError(f"seeding member {n + 1}: {r.status_code} {r.text}")

        await _gather_limited(members, 8, one)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--server", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--database", default="vafa_bench_redeem", help="recreated on --server")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--in-process", action="store_true",
        help="the worker inside vafa serve (as make run starts it) instead of --workers processes",
    )  # fmt: skip
    parser.add_argument("--redemptions", type=int, default=1000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    url = recreate_pg_database(args.server, args.database)
    in_process = {"VAFA_WORKER_IN_PROCESS": "true" if args.in_process else "false"}
    env = vafa_env(url, new_secret_key())
    vafa(["migrate"], env)
    with (
        tempfile.TemporaryDirectory(prefix="vafa-bench-") as tmp,
        fake_store(args.members, unthrottled=True) as store,
    ):
        floor = asyncio.run(store_floor(store, args.redemptions, args.connections))
        shop = add_shop(env, store)
        vafa(["shop", "settings", str(shop["shop_id"]), "--set", "currency=USD"], env)
        log = Path(tmp) / "vafa.log"
        with (
            serve_vafa(env, log, in_process) as server,
            workers(env, 0 if args.in_process else args.workers, log),
        ):
            per_member = POINTS_COST * (args.redemptions // args.members + 1)
            asyncio.run(seed_members(server.url, shop["admin_api_key"], args.members, per_member))
            r = httpx.post(
                f"{server.url}/api/v1/rewards",
                headers={"Authorization": f"Bearer {shop['admin_api_key']}"},
                json={"name": "5 off", "kind": "amount_off", "points_cost": POINTS_COST,
                      "value": 500, "code_valid_days": 30, "active": True},
            )  # fmt: skip
            r.raise_for_status()
            started = time.perf_counter()
            asyncio.run(
                redeem_all(server.url, shop["admin_api_key"], r.json()["id"], args.members,
                           args.redemptions, args.connections)
            )  # fmt: skip
            sent = time.perf_counter() - started
            issued_sql = "SELECT count(*) FROM redemptions WHERE status = 'issued'"
            issued, waited = wait_for_count(url, issued_sql, args.redemptions, args.timeout)
            elapsed = sent + waited
        issued_codes = [row[0] for row in query(url, "SELECT code FROM redemptions")]
        codes = asyncio.run(codes_on_store(store, issued_codes))
        failed = scalar(url, "SELECT count(*) FROM redemptions WHERE status = 'failed'")
    vafa(["ledger", "verify"], env)  # raises unless every balance and lot matches
    ran = "in-process" if args.in_process else args.workers
    print(
        f"workers {ran}: {args.redemptions} redemptions over {args.connections} "
        f"connections; requests answered in {sent:.1f} s; all issued after {elapsed:.1f} s\n"
        f"  vafa:  {issued / elapsed:,.0f} redemptions/s end to end (issued {issued}, "
        f"failed {failed}, codes on the store {codes})\n"
        f"  floor: {floor:,.0f} codes/s created straight on the fake store\n"
        f"  ratio: {issued / elapsed / floor:.2f}\n  vafa ledger verify: OK"
    )
    if issued != args.redemptions or codes != issued or failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
