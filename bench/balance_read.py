"""Balance reads: ``GET /api/v1/members/{customer_id}`` against a constant JSON endpoint.

    python -m bench.balance_read                 # a fresh SQLite file with a small seeded ledger
    python -m bench.balance_read --recreate \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/vafa_bench_read
    python -m bench.balance_read --database-url <a database filled by bench.seed_million>

Starts uvicorn (one process) on ``bench.baseline_app``, with a database that has members: a
fresh one is migrated, given a shop with the CLI and seeded with ``--members`` members and
``--transactions`` ledger transactions (the bulk writer of ``bench.seed_million``); a seeded
one is used as it is (its shop is taken over). Then, with 32 connections for a fixed time each:

(a) ``GET /bench/bare-json``: a constant member through the same response model, no auth, no
    database;
(b) ``GET /api/v1/members/{customer_id}`` with the shop's admin key, cycling through up to
    ``--sample`` random members.

Reports requests/s, p50/p99 latency, the ratio and the server's peak RSS.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import httpx

from app.crypto import new_secret_key
from bench.common import (
    GetLoad,
    LoadResult,
    add_common_arguments,
    cpu_ratio,
    database_name,
    is_sqlite,
    pick_loader,
    prepare_shop,
    print_results,
    resolve_database,
    result_dict,
    run_load,
    sample_customers,
    scalar,
    serve,
    vafa_env,
    write_json,
)
from bench.rss import mib
from bench.seed_million import seed_ledger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--members", type=int, default=2_000, help="to seed a fresh database")
    parser.add_argument("--transactions", type=int, default=20_000, help="to seed, likewise")
    parser.add_argument("--sample", type=int, default=10_000, help="members to read, cycled")
    args = parser.parse_args()
    loader = pick_loader(args.loader)

    with tempfile.TemporaryDirectory(prefix="vafa-bench-") as tmp:
        workdir = Path(tmp)
        url = resolve_database(args, workdir)
        env = vafa_env(url, new_secret_key())
        shop = prepare_shop(url, env)
        if not scalar(url, "SELECT COUNT(*) FROM members WHERE shop_id = :s", s=shop.shop_id):
            print(f"seeding {args.members} members, {args.transactions} transactions …")
            seed_ledger(url, shop.shop_id, members=args.members, transactions=args.transactions)
        members = sample_customers(url, shop.shop_id, args.sample)
        authorization = f"Bearer {shop.admin_api_key}"
        bare_load = GetLoad(["/bench/bare-json"], authorization)
        member_load = GetLoad([f"/api/v1/members/{c}" for c in members], authorization)

        def run(label: str, load: GetLoad, seconds: float) -> LoadResult:
            return run_load(
                label,
                server.url,
                load,
                loader=loader,
                seconds=seconds,
                connections=args.connections,
                threads=args.threads,
                workdir=workdir,
                server_pid=server.proc.pid,
            )

        with serve(env, workdir / "server.log", args.access_log) as server:
            # One read first, so a broken set-up fails loudly instead of measuring 401s.
            response = httpx.get(
                server.url + member_load.paths[0], headers={"Authorization": authorization}
            )
            if response.status_code != 200 or "available" not in response.json()["points"]:
                raise SystemExit(f"member read answered {response.status_code}: {response.text}")

            if args.warmup > 0:
                run("warm-up", bare_load, args.warmup)
            bare = run("GET /bench/bare-json", bare_load, args.duration)
            if args.warmup > 0:
                run("warm-up", member_load, args.warmup)
            vafa = run("GET /api/v1/members/{id}", member_load, args.duration)
            server_rss = server.peak_rss_kib()

    engine = "SQLite" if is_sqlite(url) else "PostgreSQL"
    print_results(
        f"balance read: {engine} {database_name(url)}, {len(members)} members cycled, "
        f"{args.connections} connections, {args.duration:g} s each, loader {loader}",
        [bare, vafa],
    )
    ratio = vafa.rps / bare.rps if bare.rps else 0.0
    print(f"  ratio vafa/bare: {ratio:.3f}")
    by_cpu = cpu_ratio(bare, vafa)
    if by_cpu is not None:
        print(f"  ratio by server CPU per request (bare/vafa): {by_cpu:.3f}")
    print(f"  peak RSS: server {mib(server_rss)}")
    data: dict[str, Any] = {
        "benchmark": "balance_read",
        "database": f"{engine} {database_name(url)}",
        "members_cycled": len(members),
        "connections": args.connections,
        "results": [result_dict(bare), result_dict(vafa)],
        "ratio": round(ratio, 4),
        "ratio_by_cpu": None if by_cpu is None else round(by_cpu, 4),
        "server_peak_rss_kib": server_rss,
    }
    write_json(args.json, data)
    if vafa.failed or bare.failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
