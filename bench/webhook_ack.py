"""Webhook acknowledgement: ``POST /webhooks/shopify`` against a bare HMAC-checking endpoint.

    python -m bench.webhook_ack                  # a fresh SQLite file in a temporary directory
    python -m bench.webhook_ack --recreate \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/vafa_bench_ack
    python -m bench.webhook_ack --database-url <a database filled by bench.seed_million>

Starts uvicorn (one process) on ``bench.baseline_app`` (the real app plus the baselines),
migrates the database and creates a Shopify shop with the CLI (or takes over the shop of a
seeded database), then, with 32 connections for a fixed time each:

(a) ``POST /bench/bare-webhook``: reads the body and checks its HMAC, nothing else (a FastAPI
    endpoint: the issue's floor);
(b) ``POST /bench/bare-webhook-plain``: the same, served as a plain Starlette route as the
    webhook endpoints are (reported beside the target, to tell the framework's cost apart);
(c) ``POST /webhooks/shopify``: the real intake;

both with the same signed ~8 KB ``orders/paid`` deliveries (distinct orders and customers, a
new ``X-Shopify-Event-Id`` per request, so none is a duplicate). Reports requests/s, p50/p99
latency and the ratio, the peak RSS of the server (and of ``vafa worker`` with ``--worker``),
and checks in the database that every acknowledged delivery of (b) was stored.

The worker stays off unless ``--worker`` (in the API process on SQLite, as ``vafa serve`` runs
it; one ``vafa worker`` process on PostgreSQL). ``--backlog N`` stores N pending events first,
so that with ``--worker`` the acknowledgements compete with a worker catching up.

``--make-run`` measures the configuration a newcomer's ``make run`` starts: (a) and (b) as
above, then the server is stopped and (c) goes to ``vafa serve`` itself, with its defaults (on
SQLite the worker in the same process, the access log on), every delivery a new order (so every
one is work for the worker). After the load it waits for the worker to catch up and checks that
every stored delivery was processed and earned its order's points.

    python -m bench.webhook_ack --make-run --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from app.crypto import new_secret_key
from bench.common import (
    LoadResult,
    Server,
    WebhookLoad,
    add_common_arguments,
    cpu_ratio,
    customers_for_orders,
    database_name,
    insert_events,
    is_sqlite,
    new_order_ids,
    order_body,
    pick_loader,
    prepare_shop,
    print_results,
    query,
    resolve_database,
    result_dict,
    run_load,
    run_nonce,
    scalar,
    serve,
    serve_vafa,
    sign,
    vafa_env,
    workers,
    write_json,
)
from bench.rss import mib, peak_rss_kib

BARE = "/bench/bare-webhook"
PLAIN = "/bench/bare-webhook-plain"
VAFA = "/webhooks/shopify"


def say(message: str) -> None:
    """Progress on stderr as it happens (a run is silent for minutes otherwise)."""
    print(message, file=sys.stderr, flush=True)


def check_once(server: Server, load: WebhookLoad) -> None:
    """One delivery before the load, so a broken set-up fails loudly instead of measuring 401s."""
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": load.topic,
        "X-Shopify-Hmac-Sha256": load.signatures[0],
        "X-Shopify-Shop-Domain": load.domain,
        "X-Shopify-Event-Id": f"{load.nonce}-check",
    }
    response = httpx.post(server.url + load.path, content=load.bodies[0], headers=headers)
    if response.status_code != 200:
        raise SystemExit(f"{load.path} answered {response.status_code}: {response.text}")


def wait_processed(url: str, before: int, timeout: float = 600) -> dict[str, Any]:
    """Wait until no event stored after id ``before`` is pending; then count how they ended
    and how many orders earned points."""
    pending_sql = "SELECT COUNT(*) FROM webhook_events WHERE id > :before AND status = 'pending'"
    pending_at_end = int(scalar(url, pending_sql, before=before))
    started = last_said = time.monotonic()
    deadline = started + timeout
    while (left := scalar(url, pending_sql, before=before)) and time.monotonic() < deadline:
        if time.monotonic() - last_said >= 10:  # a slow worker is not a hung benchmark
            say(f"  {left} deliveries still pending after {time.monotonic() - started:.0f} s")
            last_said = time.monotonic()
        time.sleep(0.5)
    seconds = time.monotonic() - started
    if left:
        say(f"  gave up waiting: {left} deliveries still pending after {timeout:.0f} s")
    statuses = dict(
        query(
            url,
            "SELECT status, COUNT(*) FROM webhook_events WHERE id > :before GROUP BY status",
            before=before,
        )
    )
    # Every delivery is a new paid order: each order the worker knows must have earned.
    earned = scalar(url, "SELECT COUNT(DISTINCT order_id) FROM ledger_transactions "
                    "WHERE kind = 'earn'")  # fmt: skip
    orders = scalar(url, "SELECT COUNT(*) FROM orders")
    return {
        "pending_at_end": pending_at_end,
        "seconds": round(seconds, 1),
        "stored": sum(int(n) for n in statuses.values()),
        "processed": int(statuses.get("processed", 0)),
        "statuses": {str(k): int(v) for k, v in statuses.items()},
        "earned": int(earned or 0),
        "orders": int(orders or 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--body-bytes", type=int, default=8192)
    parser.add_argument("--bodies", type=int, default=2000, help="distinct orders, cycled")
    parser.add_argument("--worker", action="store_true", help="process events during the run")
    parser.add_argument(
        "--backlog",
        type=int,
        default=0,
        help="pending events to store before the run (with --worker: acks while it catches up)",
    )
    parser.add_argument(
        "--make-run",
        action="store_true",
        help="(c) against `vafa serve` with its defaults (worker on), every delivery a new order",
    )
    parser.add_argument(
        "--max-rate",
        type=int,
        default=8000,
        help="with --make-run: distinct orders per second of load to prepare",
    )
    parser.add_argument(
        "--serve-setting",
        action="append",
        default=[],
        metavar="VAFA_NAME=VALUE",
        help="with --make-run: a setting for `vafa serve` (to pair a change against the default)",
    )
    args = parser.parse_args()
    loader = pick_loader(args.loader)
    serve_settings = dict(item.split("=", 1) for item in args.serve_setting)
    if args.make_run:
        args.worker = True

    with tempfile.TemporaryDirectory(prefix="vafa-bench-") as tmp:
        workdir = Path(tmp)
        url = resolve_database(args, workdir)
        env = vafa_env(url, new_secret_key())
        shop = prepare_shop(url, env)
        env["VAFA_BENCH_API_SECRET"] = shop.api_secret
        in_process = args.worker and is_sqlite(url)
        if in_process and not args.make_run:  # --make-run: `vafa serve` decides for itself
            env["VAFA_WORKER_IN_PROCESS"] = "true"

        customers = customers_for_orders(url, shop.shop_id, 2000)
        if args.backlog > 0:
            print(f"storing a backlog of {args.backlog} pending events …")
            asyncio.run(
                insert_events(url, shop, new_order_ids(args.backlog), customers, args.body_bytes)
            )

        def signed(count: int) -> tuple[list[bytes], list[str]]:
            made = [
                order_body(order_id, customers[i % len(customers)], args.body_bytes)
                for i, order_id in enumerate(new_order_ids(count))
            ]
            return made, [sign(body, shop.api_secret) for body in made]

        bodies, signatures = signed(args.bodies)
        nonce = run_nonce()
        # --make-run: the warm-up and the measured run each a set of orders never seen before.
        fresh: dict[str, tuple[list[bytes], list[str]]] = {}

        def prepare_fresh(rate: float) -> None:
            """As many new orders as the intake could take at ``rate`` (the plain floor's, which
            it cannot beat, with a margin; at most ``--max-rate``): 8 KB each, so preparing the
            issue's 8,000/s × 11 s took ~10 s and 650 MiB on a busy machine."""
            per_second = min(int(rate * 1.5) + 100, args.max_rate)
            say(f"preparing a new order for every delivery ({per_second}/s of load) …")
            fresh["w"] = signed(int(args.warmup * per_second))
            fresh["m"] = signed(int(args.duration * per_second))

        def load_for(path: str, tag: str) -> WebhookLoad:
            b, s = fresh.get(tag, (bodies, signatures)) if path == VAFA else (bodies, signatures)
            return WebhookLoad(path, b, s, shop.domain, f"{nonce}{tag}")

        def run(label: str, path: str, tag: str, seconds: float) -> LoadResult:
            return run_load(
                label,
                server.url,
                load_for(path, tag),
                loader=loader,
                seconds=seconds,
                connections=args.connections,
                threads=args.threads,
                workdir=workdir,
                server_pid=server.proc.pid,
            )

        worker_rss: int | None = None
        catch_up: dict[str, Any] = {}
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(serve(env, workdir / "server.log", args.access_log))
            worker_procs = []
            if args.worker and not in_process:
                worker_procs = stack.enter_context(workers(env, 1, workdir / "worker.log"))
            check_once(server, load_for(BARE, "c"))
            check_once(server, load_for(PLAIN, "c"))
            if not args.make_run:
                check_once(server, load_for(VAFA, "c"))

            if args.warmup > 0:
                run("warm-up", BARE, "w", args.warmup)
            bare = run(f"POST {BARE}", BARE, "m", args.duration)
            if args.warmup > 0:
                run("warm-up", PLAIN, "w", args.warmup)
            plain = run(f"POST {PLAIN}", PLAIN, "m", args.duration)

            say(f"floors: {bare.rps:.0f} req/s (FastAPI), {plain.rps:.0f} req/s (plain)")
            if args.make_run:
                stack.close()  # the baseline server; `vafa serve` alone from here on
                prepare_fresh(max(bare.rps, plain.rps))
                say("starting `vafa serve` …")
                server = stack.enter_context(
                    serve_vafa(env, workdir / "vafa-serve.log", serve_settings)
                )
                check_once(server, load_for(VAFA, "c"))
            if args.warmup > 0:
                run("warm-up", VAFA, "w", args.warmup)
            before = scalar(url, "SELECT COALESCE(MAX(id), 0) FROM webhook_events")
            vafa = run(f"POST {VAFA}", VAFA, "m", args.duration)
            say(f"{VAFA}: {vafa.rps:.0f} req/s")
            if "m" in fresh and vafa.requests > len(fresh["m"][0]):
                say(f"  WARNING: {vafa.requests} deliveries for {len(fresh['m'][0])} new orders: "
                    "some orders were sent twice (raise the margin in prepare_fresh)")  # fmt: skip
            stored = scalar(
                url,
                "SELECT COUNT(*) FROM webhook_events WHERE id > :before AND dedupe_key LIKE :key",
                before=before,
                key=f"shopify:event:orders/paid:{nonce}m-%",
            )
            if args.make_run and serve_settings.get("VAFA_WORKER_IN_PROCESS") != "false":
                say("waiting for the worker to process every stored delivery …")
                catch_up = wait_processed(url, before)
            server_rss = server.peak_rss_kib()
            if worker_procs:
                worker_rss = peak_rss_kib(worker_procs[0].pid)

    results = [bare, plain, vafa]
    engine = "SQLite" if is_sqlite(url) else "PostgreSQL"
    worker = "off" if not args.worker else ("in-process" if in_process else "1 process")
    if args.make_run:
        worker = f"as `vafa serve` runs it ({'in-process' if is_sqlite(url) else 'off'})"
        worker += "".join(f", {k}={v}" for k, v in serve_settings.items())
    if args.backlog:
        worker += f", backlog {args.backlog}"
    print_results(
        f"webhook ack: {engine} {database_name(url)}, {args.body_bytes}-byte orders/paid, "
        f"{args.connections} connections, {args.duration:g} s each, loader {loader}, "
        f"worker {worker}",
        results,
    )
    ratio = vafa.rps / bare.rps if bare.rps else 0.0
    plain_ratio = vafa.rps / plain.rps if plain.rps else 0.0
    acked = vafa.ok
    lost = max(acked - stored, 0)
    print(f"  ratio vafa/bare: {ratio:.3f}  (the target's floor, a FastAPI endpoint)")
    by_cpu = cpu_ratio(bare, vafa)
    if by_cpu is not None:
        also = " (`vafa serve`'s includes its worker's)" if args.make_run else ""
        print(f"  ratio by server CPU per request (bare/vafa): {by_cpu:.3f}{also}")
    print(f"  ratio vafa/bare-plain: {plain_ratio:.3f}  (the floor served as the intake is)")
    print(
        f"  stored events: {stored} for {acked} acknowledged deliveries "
        f"({'OK' if lost == 0 else f'{lost} LOST'}; a few more stored than acknowledged is "
        "requests still in flight when the loader stopped)"
    )
    unprocessed = 0
    if catch_up:
        unprocessed = catch_up["stored"] - catch_up["processed"]
        unprocessed += catch_up["orders"] - catch_up["earned"]
        print(
            f"  worker: {catch_up['pending_at_end']} of {catch_up['stored']} stored deliveries "
            f"still pending when the load stopped; all settled {catch_up['seconds']:.1f} s later: "
            f"{catch_up['processed']} processed; {catch_up['earned']} of {catch_up['orders']} "
            "orders earned points "
            f"({'OK' if unprocessed == 0 else f'{unprocessed} NOT PROCESSED'})"
        )
    print(
        f"  peak RSS: server {mib(server_rss)}"
        + (f", worker {mib(worker_rss)}" if worker_rss else "")
    )

    data: dict[str, Any] = {
        "benchmark": "webhook_ack",
        "database": f"{engine} {database_name(url)}",
        "worker": worker,
        "body_bytes": args.body_bytes,
        "connections": args.connections,
        "results": [result_dict(r) for r in results],
        "ratio": round(ratio, 4),
        "ratio_by_cpu": None if by_cpu is None else round(by_cpu, 4),
        "ratio_plain": round(plain_ratio, 4),
        "stored": stored,
        "acknowledged": acked,
        "server_peak_rss_kib": server_rss,
        "worker_peak_rss_kib": worker_rss,
        "catch_up": catch_up,
    }
    write_json(args.json, data)
    if lost or unprocessed or vafa.failed or bare.failed or plain.failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
