"""Event processing: how fast ``vafa worker`` turns stored events into ledger entries, against
pgbench TPC-B on the same PostgreSQL server.

    python -m bench.processing           # fresh vafa_bench_processing on 127.0.0.1:5432
    python -m bench.processing --clear-pending \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/vafa_bench_large

1. A fresh database (or ``--database-url``, e.g. one filled by ``bench.seed_million``),
   migrated, with a Shopify shop created by the CLI (or the seeded shop taken over).
2. ``--events`` (20,000) pending ``orders/paid`` events inserted straight into
   ``webhook_events``, as intake stores them: signed ~8 KB bodies, each a distinct paid order of
   one of ``--customers`` (2,000) customers (seeded members where the database has them).
3. ``--workers`` (1) ``vafa worker`` processes started; the run ends when no first attempt is
   pending. Events/s counts from the first batch the workers started to the end.
   The shop's balance write-backs go to the fake Shopify in a process of its own, throttled
   like Shopify's standard plan, as a live store would take them (``--store unreachable``:
   to a domain that does not resolve, so every write-back fails and is retried).
4. Checks: every event processed, one earn per order, ``vafa ledger verify`` clean.
5. ``pgbench -i -s SCALE`` + ``pgbench -c 8 -j 2 -T 20`` on a scratch database (dropped after)
   on the same server; prints TPS and the ratio events/s ÷ TPS.

Also reports the peak RSS of each worker and of ``vafa ledger verify``. A SQLite
``--database-url`` works too (the embedded engine); pgbench is then skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from glob import glob
from pathlib import Path

import orjson
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.crypto import new_secret_key
from bench.common import (
    PG_SERVER,
    REPO,
    Process,
    absolute_url,
    asyncpg_dsn,
    customers_for_orders,
    database_name,
    drop_pg_database,
    fake_store,
    insert_events,
    is_sqlite,
    new_order_ids,
    prepare_shop,
    query,
    recreate_database,
    recreate_pg_database,
    require_bench_database,
    scalar,
    tail,
    vafa_command,
    vafa_env,
    workers,
    write_json,
)
from bench.rss import cpu_seconds, mib, peak_rss_kib, postgres_cpu_seconds, run_measured

DATABASE = "vafa_bench_processing"
PGBENCH_DATABASE = "vafa_bench_pgbench"
PENDING_FIRST_TRIES = (
    "SELECT COUNT(*) FROM webhook_events WHERE shop_id = :s AND status = 'pending' AND attempts = 0"
)


async def wait_until_settled(url: str, shop_id: int, procs: list[Process], seconds: float) -> None:
    """Poll until no event of the shop waits for its first attempt (at most ``seconds``)."""
    engine = create_async_engine(url)
    try:
        async with asyncio.timeout(seconds):
            while True:
                async with engine.connect() as conn:
                    left = await conn.scalar(text(PENDING_FIRST_TRIES), {"s": shop_id})
                if left == 0:
                    return
                if any(proc.poll() is not None for proc in procs):
                    raise RuntimeError("a worker exited during the run")
                await asyncio.sleep(0.5)
    except TimeoutError as exc:
        raise RuntimeError(f"events still pending after {seconds} s") from exc
    finally:
        await engine.dispose()


def pgbench_binary() -> str:
    found = shutil.which("pgbench") or next(
        iter(sorted(glob("/usr/lib/postgresql/*/bin/pgbench"))), None
    )
    if found is None:
        raise SystemExit("pgbench not found (it ships with PostgreSQL); or use --skip-pgbench")
    return found


def run_pgbench(server_url: str, scale: int, clients: int, threads: int, seconds: int) -> float:
    """TPS of pgbench's TPC-B-like script on a scratch database, dropped afterwards."""
    url = recreate_pg_database(server_url, PGBENCH_DATABASE)
    parts = make_url(url)
    conn = [
        "-h",
        parts.host or "127.0.0.1",
        "-p",
        str(parts.port or 5432),
        "-U",
        parts.username or "postgres",
    ]
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = parts.password
    binary = pgbench_binary()
    try:
        subprocess.run(
            [binary, "-i", "-q", "-s", str(scale), *conn, PGBENCH_DATABASE],
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
        done = subprocess.run(
            [
                binary,
                "-c",
                str(clients),
                "-j",
                str(threads),
                "-T",
                str(seconds),
                *conn,
                PGBENCH_DATABASE,
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=seconds + 300,
        )
    finally:
        drop_pg_database(server_url, PGBENCH_DATABASE)
    match = re.search(r"tps = ([0-9.]+) \((?:without|excluding) initial connection", done.stdout)
    if match is None:
        raise RuntimeError(f"no tps in pgbench's output:\n{done.stdout}")
    return float(match.group(1))


SERVER_ACTIVITY = """
SELECT w.wal_records, w.wal_fpi, w.wal_bytes::bigint,
       d.blks_read, d.blks_hit, d.xact_commit,
       b.checkpoints_timed + b.checkpoints_req, b.buffers_checkpoint + b.buffers_clean,
       b.buffers_backend
FROM pg_stat_wal w, pg_stat_bgwriter b, pg_stat_database d
WHERE d.datname = current_database()
"""
ACTIVITY_NAMES = (
    "wal_records", "wal_full_page_images", "wal_bytes", "blocks_read", "blocks_hit",
    "commits", "checkpoints", "buffers_written_bg", "buffers_written_backend",
)  # fmt: skip


def server_activity(url: str) -> dict[str, int] | None:
    """PostgreSQL's cumulative counters for WAL, buffers and checkpoints (the statistics are
    flushed by backends about once a second, hence the pause), to say per event what the server
    did: the large database's slower runs are explained here or not at all."""
    if is_sqlite(url):
        return None
    time.sleep(1.5)
    try:
        row = query(url, SERVER_ACTIVITY)[0]
    except Exception as exc:  # e.g. PostgreSQL 17 moved checkpoints out of pg_stat_bgwriter
        print(f"(no server statistics: {type(exc).__name__})")
        return None
    return {name: int(value) for name, value in zip(ACTIVITY_NAMES, row, strict=True)}


RELATION_READS = """
SELECT relname, heap_blks_read, COALESCE(toast_blks_read, 0) FROM pg_statio_user_tables
UNION ALL
SELECT indexrelname, idx_blks_read, 0 FROM pg_statio_user_indexes
"""


def relation_reads(url: str) -> dict[str, int]:
    """Blocks each table and index had to read in (not found in shared buffers)."""
    if is_sqlite(url):
        return {}
    return {name: int(heap) + int(toast) for name, heap, toast in query(url, RELATION_READS)}


def clear_pending(url: str) -> None:
    """Delete the events earlier runs left pending (the ack benchmarks' deliveries), so that
    only this run's are counted, then, on PostgreSQL, ``VACUUM ANALYZE`` the database as
    autovacuum would: with autovacuum off, every earlier run's updates (events, accounts,
    orders, lots) and these deletes leave dead rows that the worker's queries walk (measured
    on the large database: 1,823 instead of 2,192 events/s)."""
    count = scalar(url, "SELECT COUNT(*) FROM webhook_events WHERE status = 'pending'")
    query(url, "DELETE FROM webhook_events WHERE status = 'pending'")
    print(f"deleted {count} events left pending by earlier runs")
    if not is_sqlite(url):

        async def vacuum() -> None:
            import asyncpg

            conn = await asyncpg.connect(asyncpg_dsn(url))
            try:
                await conn.execute("VACUUM ANALYZE")
            finally:
                await conn.close()

        asyncio.run(vacuum())
        print("vacuumed the database")


def analyze(url: str) -> None:
    async def run() -> None:
        import asyncpg

        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.execute("ANALYZE")
        finally:
            await conn.close()

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-url", default=PG_SERVER, help="PostgreSQL server (no database)")
    parser.add_argument("--database-url", help="use this vafa_bench* database instead")
    parser.add_argument("--recreate", action="store_true", help="start --database-url afresh")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--body-bytes", type=int, default=8192)
    parser.add_argument("--workers", type=int, default=1, help="vafa worker processes")
    parser.add_argument("--batch-size", type=int, help="VAFA_WORKER_BATCH_SIZE (default 200)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for processing")
    parser.add_argument("--skip-pgbench", action="store_true")
    parser.add_argument("--pgbench-scale", type=int, default=1)
    parser.add_argument("--pgbench-clients", type=int, default=8)
    parser.add_argument("--pgbench-threads", type=int, default=2)
    parser.add_argument("--pgbench-seconds", type=int, default=20)
    parser.add_argument(
        "--clear-pending",
        action="store_true",
        help="first delete events earlier runs left pending and vacuum the database",
    )
    parser.add_argument(
        "--store",
        choices=["fake", "unreachable"],
        default="fake",
        help="where the shop's balance write-backs go: the fake Shopify in a process of its "
        "own, throttled like Shopify's standard plan (as a live store would answer), or the "
        "bench domain, which does not resolve (every write-back fails and is retried)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    if args.events < 1 or args.customers < 1 or args.workers < 1:
        parser.error("--events, --customers and --workers must be at least 1")

    if args.database_url:
        url = absolute_url(args.database_url)
        require_bench_database(url)
        if args.recreate:
            recreate_database(url)
    else:
        url = recreate_pg_database(args.server_url, DATABASE)
    env = vafa_env(url, new_secret_key())
    if args.batch_size:
        env["VAFA_WORKER_BATCH_SIZE"] = str(args.batch_size)
    shop = prepare_shop(url, env)
    customers = customers_for_orders(url, shop.shop_id, args.customers)
    stack = contextlib.ExitStack()
    tally = Path(tempfile.mkdtemp(prefix="vafa-store-")) / "tally"  # the fake's, once stopped
    if args.store == "fake":
        low, high = min(customers), max(customers)
        known = high - low + 1 if high - low < 100_000 else 0  # a seed's sample: none known
        store_url = stack.enter_context(fake_store(known, first=low, tally=tally))
        # A live store's address: what `vafa shop add-shopify --api-url` records.
        query(url, "UPDATE shops SET api_url = :u WHERE id = :s", u=store_url, s=shop.shop_id)
    if args.clear_pending:
        clear_pending(url)

    print(f"inserting {args.events} pending events into {database_name(url)} …")
    order_ids = new_order_ids(args.events)
    asyncio.run(insert_events(url, shop, order_ids, customers, args.body_bytes))
    if not is_sqlite(url) and scalar(url, "SELECT current_setting('autovacuum')") != "on":
        # As autovacuum would after a bulk insert: production servers keep it on, and the
        # worker no longer analyzes tables itself (it warns at start when autovacuum is off).
        analyze(url)
        print("autovacuum is off on this server: analyzed the database as autovacuum would")
    events = scalar(url, PENDING_FIRST_TRIES, s=shop.shop_id)
    tx_before = scalar(url, "SELECT COALESCE(MAX(id), 0) FROM ledger_transactions")
    first_event = scalar(
        url,
        "SELECT MIN(id) FROM webhook_events WHERE shop_id = :s AND status = 'pending'",
        s=shop.shop_id,
    )

    earlier = events - args.events
    also = f" ({args.events} inserted + {earlier} already pending)" if earlier else ""
    print(f"processing {events} events{also} with {args.workers} `vafa worker` process(es) …")
    activity_before = server_activity(url)
    server_cpu_before = postgres_cpu_seconds()
    reads_before = relation_reads(url)
    with stack, tempfile.TemporaryDirectory(prefix="vafa-bench-") as tmp:
        log = Path(tmp) / "worker.log"
        launched = datetime.now(UTC)
        try:
            with workers(env, args.workers, log) as procs:
                asyncio.run(wait_until_settled(url, shop.shop_id, procs, args.timeout))
                finished = time.time()
                worker_rss = [peak_rss_kib(proc.pid) for proc in procs]
                worker_cpu = [cpu_seconds(proc.pid) or 0.0 for proc in procs]
                server_cpu_after = postgres_cpu_seconds()
        except RuntimeError as exc:
            raise SystemExit(f"{exc}\n{tail(log)}") from exc

    calls = orjson.loads(tally.read_bytes()) if tally.exists() else None
    shutil.rmtree(tally.parent)
    activity_after = server_activity(url)
    reads_after = relation_reads(url)
    reads = sorted(
        ((reads_after[name] - reads_before.get(name, 0), name) for name in reads_after),
        reverse=True,
    )
    per_event: dict[str, float] = {}
    if activity_before is not None and activity_after is not None:
        per_event = {
            name: round((activity_after[name] - activity_before[name]) / events, 2)
            for name in ACTIVITY_NAMES
        }
    started = scalar(
        url,
        "SELECT MIN(processed_at) FROM webhook_events WHERE shop_id = :s AND id >= :first "
        "AND processed_at IS NOT NULL",
        s=shop.shop_id,
        first=first_event,
    )
    if isinstance(started, str):  # SQLite returns the stored text
        started = datetime.fromisoformat(started).replace(tzinfo=UTC)
    started = max(started, launched)
    seconds = finished - started.timestamp()
    rate = events / seconds
    startup = started.timestamp() - launched.timestamp()

    rows = query(
        url,
        "SELECT status, COUNT(*) FROM webhook_events WHERE shop_id = :s AND id >= :first "
        "GROUP BY status",
        s=shop.shop_id,
        first=first_event,
    )
    statuses = dict(rows)
    earns = scalar(
        url,
        "SELECT COUNT(*) FROM ledger_transactions WHERE id > :before AND kind = 'earn' "
        "AND order_id BETWEEN :low AND :high",  # this run's ids all have the same length
        before=tx_before,
        low=str(order_ids[0]),
        high=str(order_ids[-1]),
    )
    writes = dict(
        query(
            url,
            "SELECT status, COUNT(*) FROM jobs WHERE shop_id = :s AND kind = 'balance.write' "
            "GROUP BY status",
            s=shop.shop_id,
        )
    )
    verify = run_measured(
        [*vafa_command(), "ledger", "verify", "--shop", str(shop.shop_id)], env, REPO, 3600
    )

    tps = None
    if not args.skip_pgbench and not is_sqlite(url):
        print(
            f"pgbench -s {args.pgbench_scale} -c {args.pgbench_clients} "
            f"-j {args.pgbench_threads} -T {args.pgbench_seconds} …"
        )
        server = args.server_url if not args.database_url else url
        tps = run_pgbench(
            server,
            args.pgbench_scale,
            args.pgbench_clients,
            args.pgbench_threads,
            args.pgbench_seconds,
        )

    engine = "SQLite" if is_sqlite(url) else "PostgreSQL"
    print(
        f"\nprocessing: {engine} {database_name(url)}, {args.workers} worker(s), "
        f"{args.body_bytes}-byte orders/paid, {args.customers} customers"
    )
    print(
        f"  events processed   {events} in {seconds:.2f} s = {rate:.0f} events/s "
        f"(worker start-up before the first batch: {startup:.1f} s, not counted)"
    )
    if tps is not None:
        print(
            f"  pgbench TPC-B      {tps:.0f} TPS (-s {args.pgbench_scale} "
            f"-c {args.pgbench_clients} -j {args.pgbench_threads} -T {args.pgbench_seconds})"
        )
        print(f"  ratio events/TPS   {rate / tps:.3f}")
    print(f"  event statuses     {statuses}")
    print(f"  earn transactions  {earns} for {args.events} orders")
    print(f"  balance write-backs {writes} (store: {args.store})")
    if calls is not None:
        print(f"  store requests     {calls['requests']}, {calls['throttled']} of them throttled")
    verdict = "clean" if verify.returncode == 0 else f"FAILED ({verify.returncode})"
    print(
        f"  ledger verify      {verdict} in {verify.seconds:.1f} s, "
        f"peak RSS {mib(verify.peak_rss_kib)}"
    )
    print("  peak RSS workers   " + ", ".join(mib(kib) for kib in worker_rss))
    print(
        f"  worker CPU         {sum(worker_cpu):.1f} s = {1000 * sum(worker_cpu) / events:.1f} ms "
        "per event (user + system, start-up included)"
    )
    server_cpu = None
    if server_cpu_before is not None and server_cpu_after is not None and not is_sqlite(url):
        server_cpu = server_cpu_after - server_cpu_before
        print(
            f"  PostgreSQL CPU     {server_cpu:.1f} s = {1000 * server_cpu / events:.2f} ms per "
            "event (every postgres process on this machine, the bench's own queries included)"
        )
    if per_event:
        print("  server, per event  " + ", ".join(f"{k} {v:g}" for k, v in per_event.items()))
        print(
            "  blocks read in     "
            + ", ".join(f"{name} {count / events:.2f}" for count, name in reads[:8] if count)
        )

    ok = statuses == {"processed": events} and earns == args.events and verify.returncode == 0
    write_json(
        args.json,
        {
            "benchmark": "processing",
            "database": f"{engine} {database_name(url)}",
            "workers": args.workers,
            "events": events,
            "seconds": round(seconds, 3),
            "events_per_second": round(rate, 1),
            "worker_startup_seconds": round(startup, 2),
            "pgbench_tps": tps,
            "ratio": round(rate / tps, 4) if tps else None,
            "statuses": statuses,
            "earn_transactions": earns,
            "store": args.store,
            "balance_writes": writes,
            "ledger_verify_ok": verify.returncode == 0,
            "ledger_verify_seconds": round(verify.seconds, 2),
            "ledger_verify_peak_rss_kib": verify.peak_rss_kib,
            "worker_peak_rss_kib": worker_rss,
            "worker_cpu_seconds": worker_cpu,
            "postgres_cpu_seconds": server_cpu,
            "server_per_event": per_event,
        },
    )
    if not ok:
        if verify.returncode != 0:
            print(verify.stderr[-4000:])
        raise SystemExit(1)


if __name__ == "__main__":
    main()
