"""What the reports' monthly and tier rollups cost a tick at scale (PostgreSQL).

Seeds a shop with ``--members`` members (one in ten silver) and ``--months`` months of
``--buyers`` buying members each as customer-month rows (what app/reports/monthly.py keeps),
then times, ``--runs`` times each, the two parts of a tick that read more than the changed
days: the month aggregates of the newest month (buyers, repeat buyers, cohort cells) and the
tiers' lifetime-value rollup (every member; the ticks make it at most hourly).

    $PY -m bench.report_rollups --database-url postgresql+asyncpg://postgres@127.0.0.1/vafa_bench_rollups
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, date, datetime

from sqlalchemy import text

from app.cli import run_migrations
from app.db import Database
from app.reports import clv, monthly
from bench.common import is_sqlite, recreate_database


async def _seed(db: Database, members: int, months: int, buyers: int) -> None:
    async with db.writer.begin() as c:
        await c.execute(text(
            "INSERT INTO shops (id, platform, domain, credentials, status, settings, created_at,"
            " updated_at, admin_key_hash) VALUES (1, 'shopify', 'bench.myshopify.com', 'x',"
            " 'active', '{}', now(), now(), 'x')"))  # fmt: skip
        await c.execute(text(
            "INSERT INTO members (shop_id, customer_id, tier, created_at) SELECT 1, g::text,"
            " CASE WHEN g % 10 = 0 THEN 'silver' ELSE 'bronze' END, now()"
            " FROM generate_series(1, :n) g"), {"n": members})  # fmt: skip
        await c.execute(text(
            "INSERT INTO report_customer_months (shop_id, month, customer, member, joined,"
            " orders, revenue_minor) SELECT 1, make_date(2026, m, 1),"
            " ((m * :b + g) % :n + 1)::text, true, make_date(2026, 1, 1), 1 + g % 3,"
            " 1000 + g % 9000 FROM generate_series(1, :months) m, generate_series(1, :b) g"),
            {"n": members, "b": buyers, "months": months})  # fmt: skip
        await c.execute(text("ANALYZE"))


async def _time(db: Database, runs: int, months: int) -> None:
    newest = date(2026, months, 1)
    jobs = {
        "month aggregates (newest month)": lambda s: monthly.rebuild_aggregates(s, 1, newest),
        "tiers' lifetime value (every member)": lambda s: clv.rebuild(
            s, 1, datetime.now(UTC), force=True
        ),
    }
    for name, job in jobs.items():
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            async with db.write() as session:
                await job(session)
            seconds.append(time.perf_counter() - started)
        print(f"{name}: " + ", ".join(f"{s:.2f} s" for s in seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a vafa_bench* PostgreSQL database")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12, choices=range(1, 13))
    parser.add_argument("--buyers", type=int, default=50_000, help="buying members a month")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if is_sqlite(args.database_url):
        raise SystemExit("PostgreSQL only (the seed uses generate_series)")
    recreate_database(args.database_url)
    run_migrations(args.database_url)

    async def run() -> None:
        db = Database(args.database_url)
        started = time.perf_counter()
        await _seed(db, args.members, args.months, args.buyers)
        print(f"seeded {args.members:,} members, {args.months * args.buyers:,} customer-month "
              f"rows in {time.perf_counter() - started:.1f} s")  # fmt: skip
        await _time(db, args.runs, args.months)
        await db.dispose()

    asyncio.run(run())


if __name__ == "__main__":
    main()
