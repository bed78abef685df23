"""Report latency on a million members: every report under ``/api/v1/reports/`` and the admin
overview, through ``vafa serve``, on a rollup built by the scheduler's task.

    timeout 3600 nice -n 10 python -m bench.reports \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/vafa_bench_reports
    timeout 1800 nice -n 10 python -m bench.reports --members 100000 \\
        --database-url sqlite+aiosqlite:////tmp/vafa_bench_reports.db
    … --reuse      # the database seeded by an earlier run, as it is

1. Seed (unless ``--reuse``): the database (a ``vafa_bench*`` name) made afresh, migrated, a
   Shopify shop added with the CLI, then ``--members`` members with ten ledger transactions
   each (so 1,000,000 members, 10,000,000 ledger transactions and 20,000,000 postings by
   default) written by ``INSERT … SELECT`` in the database (bench/seed_reports.py), a chunk of
   members at a time with its progress printed.
2. The rollup built by the scheduler's code path (``run_periodic`` with the rollup's task, as
   a worker's tick runs it) on an empty rollup; then one daily increment: the shop's cursor set
   back to before the last 24 hours of transactions and members, and the same tick again; then
   ``vafa reports rebuild`` (every day again, a month per transaction) as a process.
3. ``vafa serve`` started as users start it; every GET path under ``/api/v1/reports/`` that its
   OpenAPI lists (so reports added later are measured too), with its default period and with
   a year (``from`` a year ago, where the route takes ``from``), and ``GET /admin`` signed in
   with a link from ``vafa admin link``: ``--warmup`` requests, then ``--requests`` one after
   another, each timed (p50, p95, max).

``--paired-indexes`` also runs the increment without migration 0026's indexes (dropped, then
made again), so the indexes are shown to beat the plain tables on the same data.
``--paired-rebuild REV`` also makes every day again with the rollup module of git revision REV
(the Python loop before the SQL one: ``7310825``) in place of today's, in-process, and checks
that both give the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import tempfile
import time
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from app.crypto import Vault, new_secret_key
from app.db import Database
from app.jobs.periodic import Periodic, run_periodic
from app.reports import tasks
from app.shops.service import ShopDirectory
from bench import seed_reports
from bench.common import (
    REPO,
    absolute_url,
    database_name,
    is_sqlite,
    prepare_shop,
    recreate_database,
    require_bench_database,
    scalar,
    serve_vafa,
    vafa,
    vafa_command,
    vafa_env,
    write_json,
)

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/vafa_bench_reports"
INDEXES = (
    ("ix_ledger_transactions_created", "ledger_transactions", "shop_id, created_at"),
    ("ix_members_created", "members", "shop_id, created_at"),
    ("ix_orders_paid", "orders", "shop_id, paid_at"),
)


def _say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# -- seeding ------------------------------------------------------------------------------------


async def seed(url: str, shop_id: int, members: int, chunk: int) -> float:
    """The history, a chunk of members per transaction; seconds taken."""
    db = Database(url)
    started = time.perf_counter()
    try:
        async with db.connect() as conn:
            p = await seed_reports.plan(conn, shop_id, members)
        for low in range(0, members, chunk):
            high = min(low + chunk, members)
            async with db.connect() as conn:
                await seed_reports.seed_chunk(conn, p, low, high)
            done = time.perf_counter() - started
            _say(f"  seeded members {high:,} of {members:,} ({high * 10:,} transactions), "
                 f"{done:.0f} s")  # fmt: skip
        async with db.connect() as conn:
            await seed_reports.finish(conn)
        if not is_sqlite(url):  # statistics and the visibility map for the planner
            async with db.writer.connect() as conn:
                await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
                    text("VACUUM ANALYZE")
                )
    finally:
        await db.dispose()
    return time.perf_counter() - started


# -- the rollup ---------------------------------------------------------------------------------


async def _tick(url: str, secret_key: str) -> tuple[float, int]:
    """One scheduler tick of the rollup's task, as a worker runs it; seconds and days made."""
    db = Database(url)
    try:
        shops = ShopDirectory(db, Vault(secret_key), ttl=60)
        started = time.perf_counter()
        counts = await run_periodic(
            db, shops, [Periodic("days_rolled_up", tasks.roll_up)], datetime.now(UTC)
        )
        return time.perf_counter() - started, counts["days_rolled_up"]
    finally:
        await db.dispose()


def _empty_rollup(url: str, shop_id: int) -> None:
    for table in ("report_days", "report_cursors"):
        scalar(url, f"DELETE FROM {table} WHERE shop_id = :s", s=shop_id)


def _cursor_back_a_day(url: str, shop_id: int) -> tuple[int, int]:
    """The cursor set to before the last 24 hours of transactions and members: what a tick
    finds after a day of the shop's life. Returns how many of each it will find."""
    found = []
    for table in ("ledger_transactions", "members"):
        last = scalar(url, f"SELECT MAX(created_at) FROM {table} WHERE shop_id = :s", s=shop_id)
        last = datetime.fromisoformat(last) if isinstance(last, str) else last
        if last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        cut = last - timedelta(days=1)
        cut_value: Any = cut.replace(tzinfo=None).isoformat(" ") if is_sqlite(url) else cut
        before = scalar(
            url,
            f"SELECT COALESCE(MAX(id), 0) FROM {table} WHERE shop_id = :s AND created_at < :c",
            s=shop_id,
            c=cut_value,
        )
        newer = scalar(url, f"SELECT COUNT(*) FROM {table} WHERE shop_id = :s AND id > :i",
                       s=shop_id, i=before)  # fmt: skip
        found.append((int(before), int(newer)))
    (tx_id, txs), (member_id, members) = found
    scalar(
        url,
        "UPDATE report_cursors SET transaction_id = :t, member_id = :m WHERE shop_id = :s",
        t=tx_id,
        m=member_id,
        s=shop_id,
    )
    return txs, members


def _increment(url: str, secret_key: str, shop_id: int) -> dict[str, Any]:
    txs, members = _cursor_back_a_day(url, shop_id)
    seconds, days = asyncio.run(_tick(url, secret_key))
    _say(f"  one daily increment ({txs:,} transactions, {members:,} members, {days} days made): "
         f"{seconds:.2f} s")  # fmt: skip
    return {"seconds": round(seconds, 3), "transactions": txs, "members": members, "days": days}


def _rebuild(env: dict[str, str], shop_id: int, timeout: float) -> float:
    started = time.perf_counter()
    subprocess.run(
        [*vafa_command(), "reports", "rebuild", "--shop", str(shop_id)],
        env=env, cwd=REPO, check=True, timeout=timeout, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started


async def _rebuild_with(url: str, shop_id: int, module: Any) -> tuple[float, list[Any]]:
    """``rebuild_all`` with ``module`` as the rollup; seconds, and the rows it made."""
    saved = tasks.rollup
    tasks.rollup = module
    db = Database(url)
    try:
        started = time.perf_counter()
        await tasks.rebuild_all(db, shop_id, datetime.now(UTC))
        seconds = time.perf_counter() - started
        async with db.read() as session:
            rows = (await session.execute(text(
                "SELECT * FROM report_days WHERE shop_id = :s ORDER BY day"), {"s": shop_id}
            )).all()  # fmt: skip
        return seconds, [tuple(row)[1:] for row in rows]  # without the id
    finally:
        tasks.rollup = saved
        await db.dispose()


def _paired_rebuild(url: str, shop_id: int, revision: str) -> dict[str, Any]:
    source = subprocess.run(
        ["git", "show", f"{revision}:app/reports/rollup.py"],
        cwd=REPO, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    old = types.ModuleType("rollup_at_" + revision)
    exec(compile(source, f"{revision}:app/reports/rollup.py", "exec"), old.__dict__)
    old_seconds, old_rows = asyncio.run(_rebuild_with(url, shop_id, old))
    new_seconds, new_rows = asyncio.run(_rebuild_with(url, shop_id, tasks.rollup))
    same = old_rows == new_rows
    _say(f"  rebuild in-process: Python loop ({revision}) {old_seconds:.1f} s, SQL "
         f"{new_seconds:.1f} s, {len(new_rows)} days, same rows: {same}")  # fmt: skip
    if not same:
        raise SystemExit("the SQL rollup and the Python loop disagree")
    return {"python_loop_seconds": round(old_seconds, 2), "sql_seconds": round(new_seconds, 2),
            "days": len(new_rows), "same_rows": same}  # fmt: skip


def _drop_indexes(url: str) -> None:
    for name, _, _ in INDEXES:
        scalar(url, f"DROP INDEX {name}")


def _make_indexes(url: str) -> None:
    for name, table, columns in INDEXES:
        scalar(url, f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")
    scalar(url, "ANALYZE")


# -- latency ------------------------------------------------------------------------------------


def _report_paths(client: httpx.Client) -> list[tuple[str, dict[str, str]]]:
    """Every GET report the server's OpenAPI lists without a path parameter, with its default
    period and, where it takes ``from``, a year."""
    spec = client.get("/openapi.json").raise_for_status().json()
    year_ago = (datetime.now(UTC).date() - timedelta(days=364)).isoformat()
    found: list[tuple[str, dict[str, str]]] = []
    for path, methods in sorted(spec["paths"].items()):
        if not path.startswith("/api/v1/reports/") or "get" not in methods or "{" in path:
            continue
        found.append((path, {}))
        names = {p["name"] for p in methods["get"].get("parameters", [])}
        if "from" in names:
            found.append((path, {"from": year_ago}))
    return found


def _sign_in(client: httpx.Client, env: dict[str, str], shop_id: int) -> None:
    import json

    link = json.loads(vafa(["admin", "link", "--shop", str(shop_id)], env))["url"]
    page = client.get(httpx.URL(link).raw_path.decode())
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    token = link.rstrip("/").rsplit("/", 1)[1]
    if csrf is None:
        raise SystemExit(f"no CSRF token on the sign-in link's page ({page.status_code})")
    done = client.post(f"/admin/link/{shop_id}", data={"csrf": csrf.group(1), "token": token})
    if done.status_code != 303:
        raise SystemExit(f"admin sign-in answered {done.status_code}: {done.text[:300]}")


def _timed(
    client: httpx.Client, path: str, params: dict[str, str], warmup: int, requests: int
) -> dict[str, Any]:
    for _ in range(warmup):
        client.get(path, params=params).raise_for_status()
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        r = client.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{path} answered {r.status_code}: {r.text[:300]}")
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return {
        "path": path, "params": params, "requests": requests,
        "p50_ms": round(statistics.median(times), 1), "p95_ms": round(p95, 1),
        "max_ms": round(times[-1], 1),
    }  # fmt: skip


def measure(
    env: dict[str, str], shop_id: int, admin_key: str, warmup: int, requests: int, log: Path
) -> list[dict[str, Any]]:
    results = []
    with serve_vafa(env, log) as server:
        headers = {"Authorization": f"Bearer {admin_key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            for path, params in _report_paths(client):
                results.append(_timed(client, path, params, warmup, requests))
        with httpx.Client(base_url=server.url, timeout=60) as admin:
            _sign_in(admin, env, shop_id)
            results.append(_timed(admin, "/admin", {}, warmup, requests))
    return results


# -- the run ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a vafa_bench* database")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=100_000, help="members per transaction")
    parser.add_argument("--reuse", action="store_true", help="the database as it is, no seed")
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--no-build", action="store_true", help="keep the rollup as it is")
    parser.add_argument("--no-rebuild", action="store_true", help="skip `vafa reports rebuild`")
    parser.add_argument("--paired-indexes", action="store_true")
    parser.add_argument("--paired-rebuild", metavar="REV", help="a revision with the old rollup")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--rebuild-timeout", type=float, default=1800)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    url = absolute_url(args.database_url)
    require_bench_database(url)
    secret_key = new_secret_key()
    env = vafa_env(url, secret_key)
    data: dict[str, Any] = {"benchmark": "reports", "database": database_name(url)}
    if not args.reuse:
        recreate_database(url)
    shop = prepare_shop(url, env)
    if not args.reuse:
        _say(f"seeding {database_name(url)}: shop {shop.shop_id}, {args.members:,} members …")
        data["seed_seconds"] = round(
            asyncio.run(seed(url, shop.shop_id, args.members, args.chunk)), 1
        )
        _say(f"seeded in {data['seed_seconds']} s")
    counts = {t: scalar(url, f"SELECT COUNT(*) FROM {t}") for t in
              ("members", "ledger_transactions", "postings", "orders")}  # fmt: skip
    data["rows"] = counts
    _say("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    if args.seed_only:
        return
    if not args.no_build:
        _empty_rollup(url, shop.shop_id)
        seconds, days = asyncio.run(_tick(url, secret_key))
        _say(f"rollup built by the scheduler's tick: {days} days in {seconds:.1f} s")
        data["build"] = {"seconds": round(seconds, 2), "days": days}
    data["increment"] = _increment(url, secret_key, shop.shop_id)
    if args.paired_indexes:
        _drop_indexes(url)
        try:
            data["increment_without_indexes"] = _increment(url, secret_key, shop.shop_id)
        finally:
            _make_indexes(url)
        data["increment_again"] = _increment(url, secret_key, shop.shop_id)
    if args.paired_rebuild:
        data["paired_rebuild"] = _paired_rebuild(url, shop.shop_id, args.paired_rebuild)
    if not args.no_rebuild:
        seconds = _rebuild(env, shop.shop_id, args.rebuild_timeout)
        _say(f"vafa reports rebuild: {seconds:.1f} s")
        data["rebuild_seconds"] = round(seconds, 2)
    with tempfile.TemporaryDirectory(prefix="vafa-bench-") as tmp:
        results = measure(env, shop.shop_id, shop.admin_api_key, args.warmup, args.requests,
                          Path(tmp) / "server.log")  # fmt: skip
    engine = "SQLite" if is_sqlite(url) else "PostgreSQL"
    print(f"\nreports on {engine} {database_name(url)}: {args.requests} requests each after "
          f"{args.warmup} warm-up, one at a time, through vafa serve")  # fmt: skip
    for r in results:
        query = "?" + "&".join(f"{k}={v}" for k, v in r["params"].items()) if r["params"] else ""
        print(f"  GET {r['path'] + query:<48} p50 {r['p50_ms']:>7.1f} ms  "
              f"p95 {r['p95_ms']:>7.1f} ms  max {r['max_ms']:>7.1f} ms")  # fmt: skip
    data["latency"] = results
    write_json(args.json, data)


if __name__ == "__main__":
    main()
