"""What-if simulation: how long ``POST /api/v1/program/simulate`` takes over a shop's history.

    python -m bench.simulate                    # 100,000 orders in $TMPDIR/vafa_bench_simulate.db
    python -m bench.simulate --orders 20000 --reuse

1. A SQLite database (``--database-url``, else a fresh file), migrated, with a Shopify shop made
   by the CLI, and ``--orders`` (100,000) stored ``orders/paid`` events as intake stores them
   (~8 KB real Shopify orders of ``--customers`` customers). ``--reuse`` keeps a database an
   earlier run seeded with as many events.
2. The simulation, as the endpoint runs it (:func:`app.program.simulate.simulate`), of a draft
   with double points: both replays, the draft's and the live program's, at once, each of
   every event in its own process and throwaway database. Meanwhile the calling loop ticks
   every 10 ms: the longest gap between ticks says how long the loop was held.
3. Checks: every event processed in both replays, one earn per order, the draft's points twice
   the live program's (the orders' merchandise is whole units).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.crypto import new_secret_key
from app.db import Database
from app.program.document import ProgramDocument
from app.program.simulate import simulate
from bench.common import (
    absolute_url,
    customers_for_orders,
    database_name,
    insert_events,
    is_sqlite,
    new_order_ids,
    prepare_shop,
    recreate_database,
    require_bench_database,
    scalar,
    sqlite_url,
    vafa_env,
    write_json,
)

DOUBLE = ProgramDocument.model_validate(
    {"rules": [{"key": "purchase", "type": "purchase", "points": 2}]}
)


async def _longest_gap(stop: asyncio.Event) -> float:
    """The longest the loop kept a 10 ms ticker waiting beyond its 10 ms, until ``stop``
    (printed with when it ended, in seconds from the start)."""
    worst, at = 0.0, 0.0
    started = last = time.monotonic()
    while not stop.is_set():
        await asyncio.sleep(0.01)
        now = time.monotonic()
        if now - last - 0.01 > worst:
            worst, at = now - last - 0.01, now - started
        last = now
    print(f"  (longest wait {worst * 1000:.0f} ms, ending {at:.1f} s after the start)")
    return worst


async def _idle_gap(seconds: float) -> float:
    """The same with nothing else on the loop: what the machine's load alone costs."""
    stop = asyncio.Event()
    ticker = asyncio.create_task(_longest_gap(stop))
    await asyncio.sleep(seconds)
    stop.set()
    return await ticker


async def _timed(url: str, shop_id: int) -> tuple[Any, float, float]:
    """The simulation's report, its wall time, and the longest the loop waited for a tick."""
    stop = asyncio.Event()
    shown = 0

    def progress(done: int, total: int) -> None:
        nonlocal shown
        if done - shown >= 10_000 or done == total:
            shown = done
            print(f"  {done:>7} / {total} events", flush=True)

    ticker = asyncio.create_task(_longest_gap(stop))
    started = time.monotonic()
    db = Database(url)
    try:
        report = await simulate(db, shop_id, DOUBLE, now=datetime.now(UTC), progress=progress)
    finally:
        seconds = time.monotonic() - started
        stop.set()
        worst = await ticker
        await db.dispose()
    return report, seconds, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a vafa_bench* SQLite database")
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--body-bytes", type=int, default=8192)
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()

    url = absolute_url(
        args.database_url or sqlite_url(Path(tempfile.gettempdir()), "vafa_bench_simulate.db")
    )
    require_bench_database(url)
    if not is_sqlite(url):
        raise SystemExit("this benchmark seeds a SQLite shop (the embedded engine)")
    Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    env = vafa_env(url, new_secret_key())
    seeded = 0
    if args.reuse and Path(url.split("///", 1)[1]).exists():
        seeded = int(scalar(url, "SELECT COUNT(*) FROM webhook_events") or 0)
    if seeded != args.orders:
        recreate_database(url)
        shop = prepare_shop(url, env)
        print(f"seeding {args.orders} orders/paid events into {database_name(url)} …")
        customers = customers_for_orders(url, shop.shop_id, args.customers)
        asyncio.run(insert_events(url, shop, new_order_ids(args.orders), customers,
                                  args.body_bytes))  # fmt: skip
        shop_id = shop.shop_id
    else:
        shop_id = int(scalar(url, "SELECT MIN(id) FROM shops"))
        print(f"reusing {seeded} events of {database_name(url)}")

    print(f"simulating a double-points draft (both replays), load {os.getloadavg()[0]:.1f} …")
    idle = asyncio.run(_idle_gap(5))
    report, seconds, worst = asyncio.run(_timed(url, shop_id))
    replayed = report.events.replayed
    print(
        f"\nsimulation: SQLite {database_name(url)}, {replayed} orders/paid of "
        f"{args.body_bytes} bytes, {args.customers} customers"
    )
    print(
        f"  two replays        {seconds:.1f} s ({2 * replayed / seconds:.0f} events/s over both, "
        f"{seconds / 2:.1f} s per replay of {replayed})"
    )
    cpu = report.replay_cpu_seconds
    print(
        f"  replay CPU         draft {cpu['draft']:.1f} s, live {cpu['live']:.1f} s "
        f"({1000 * max(cpu.values()) / max(replayed, 1):.2f} ms per event)"
    )
    print(
        f"  loop held at most  {worst * 1000:.0f} ms (a 10 ms ticker on the calling loop; "
        f"{idle * 1000:.0f} ms in 5 s with nothing running)"
    )
    print(f"  event statuses     {report.events.by_status}")
    print(f"  points issued      draft {report.draft.points_issued}, "
          f"live {report.live.points_issued}")  # fmt: skip
    ok = (
        replayed == args.orders
        and report.events.by_status == {"processed": args.orders}
        and report.live.points_issued > 0
        and report.draft.points_issued == 2 * report.live.points_issued
    )
    write_json(
        args.json,
        {
            "benchmark": "simulate",
            "database": f"SQLite {database_name(url)}",
            "orders": replayed,
            "seconds_both_replays": round(seconds, 2),
            "events_per_second": round(2 * replayed / seconds, 1),
            "loop_held_max_ms": round(worst * 1000, 1),
            "loop_held_max_ms_idle": round(idle * 1000, 1),
            "replay_cpu_seconds": report.replay_cpu_seconds,
            "load_average_1m": os.getloadavg()[0],
            "statuses": report.events.by_status,
            "points": {"draft": report.draft.points_issued, "live": report.live.points_issued},
        },
    )
    if not ok:
        raise SystemExit("the replays did not process every order as expected")


if __name__ == "__main__":
    main()
