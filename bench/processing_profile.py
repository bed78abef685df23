"""Where a batch's time goes: the event processor run in this process, without the runner, the
jobs or a second stream, so that a profiler sees only the batch path.

    python -m bench.processing_profile --database-url postgresql+asyncpg://…/vafa_bench_profile
    python -m bench.processing_profile --keep …          # again on the same database (history)
    python -m bench.processing_profile --freeze …        # gc.freeze() first, as `vafa worker` does
    py-spy record --format raw -o out.txt -- python -m bench.processing_profile …

1. ``--events`` signed ``orders/paid`` events of ``--customers`` customers stored as pending
   (as ``bench.processing`` stores them), the database analyzed; ``--keep`` adds them to what
   the database holds, else it is made afresh.
2. One batch to warm up, then batches until none is left.
3. Prints this process's CPU per event (parse, program, ledger and the driver's share of the
   statements), the garbage collector's time and collections, and each statement's count per
   batch (``many``: one executemany).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import time
from collections import Counter
from typing import Any

from sqlalchemy import event

from app.crypto import new_secret_key
from bench.common import (
    absolute_url,
    customers_for_orders,
    insert_events,
    is_sqlite,
    new_order_ids,
    prepare_shop,
    recreate_database,
    require_bench_database,
    vafa_env,
)
from bench.processing import analyze


class CollectorClock:
    """Seconds the garbage collector ran, and its collections by generation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1


async def run(freeze: bool) -> None:
    # Imported once the environment names the database (settings are read at import).
    from app.config import get_settings
    from app.state import AppState, freeze_start_up
    from app.webhooks.processing import EventProcessor

    settings = get_settings()
    state = AppState.build(settings)
    processor = EventProcessor(state.db, state.shops, settings, None)
    statements: Counter[tuple[str, bool]] = Counter()

    @event.listens_for(state.db.writer.sync_engine, "before_cursor_execute")
    def count(*args: Any) -> None:
        statement, many = args[2], args[5]
        statements[" ".join(statement.split()[:4])[:70], many] += 1

    try:
        await processor.run_once()  # warm: first imports, prepared statements
        statements.clear()
        if freeze:
            freeze_start_up()
        clock = CollectorClock()
        gc.callbacks.append(clock)
        cpu, wall, events = time.process_time(), time.perf_counter(), 0
        while settled := await processor.run_once():
            events += settled
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        gc.callbacks.remove(clock)
    finally:
        await state.db.dispose()
    if not events:
        raise SystemExit("no event was pending")
    batches = events / settings.batch_size
    print(f"events      {events} in {wall:.2f} s = {events / wall:.0f} events/s (one stream)")
    print(f"CPU         {cpu:.2f} s = {1000 * cpu / events:.3f} ms per event (this process)")
    print(f"collector   {clock.seconds:.3f} s, collections by generation {clock.collections}"
          f"{' (start-up frozen)' if freeze else ''}")  # fmt: skip
    print("statements per batch:")
    for (text, many), n in statements.most_common():
        print(f"  {n / batches:6.1f} {'many' if many else '    '} {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a vafa_bench* database")
    parser.add_argument("--keep", action="store_true", help="add to the database's history")
    parser.add_argument("--events", type=int, default=10_200)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() before the batches")
    args = parser.parse_args()
    url = absolute_url(args.database_url)
    require_bench_database(url)
    if not args.keep:
        recreate_database(url)
    env = vafa_env(url, new_secret_key())
    shop = prepare_shop(url, env)
    customers = customers_for_orders(url, shop.shop_id, args.customers)
    asyncio.run(insert_events(url, shop, new_order_ids(args.events), customers, 8192))
    if not is_sqlite(url):
        analyze(url)  # as autovacuum would after the bulk insert
    os.environ.update(env)
    asyncio.run(run(args.freeze))


if __name__ == "__main__":
    main()
