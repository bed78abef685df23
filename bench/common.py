"""What the benchmark scripts share: databases, the bench shop, payloads, processes, load.

Everything listens on and talks to 127.0.0.1 only. Every process started here is stopped by
the ``with`` block that started it, also when a run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.crypto import Vault, random_token, sha256_hex
from app.orm import table_of
from app.shops.service import ADMIN_KEY_PREFIX
from app.webhooks.models import WebhookEvent
from bench.rss import cpu_seconds, peak_rss_kib
from tests.fakes.shopify import DEFAULT_TOKEN  # what the fake store accepts

REPO = Path(__file__).resolve().parent.parent
ORDER_FIXTURE = REPO / "tests" / "fixtures" / "shopify" / "orders-create.json"
LOAD_LUA = Path(__file__).with_name("load.lua")
LOOPBACK = "127.0.0.1"
PG_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
BENCH_PREFIX = "vafa_bench"  # every database these scripts create, change or drop
BENCH_DOMAIN = "vafa-bench.myshopify.com"
# Customer ids of seeded members are CUSTOMER_BASE + 0, 1, 2 … (see seed_million.py).
CUSTOMER_BASE = 6_000_000_000_000
MAX_SECONDS = 600  # no single load run may be longer

Process = subprocess.Popen[bytes]


# -- the vafa command ---------------------------------------------------------------------------


def vafa_command() -> list[str]:
    """The ``vafa`` entry point of the interpreter running the benchmark."""
    script = Path(sys.executable).with_name("vafa")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from app.cli import main; main()"]


def vafa(args: Sequence[str], env: Mapping[str, str], timeout: float = 300) -> str:
    """Run ``vafa ARGS``; return its stdout, or raise with its stderr."""
    done = subprocess.run(
        [*vafa_command(), *args],
        env=dict(env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"vafa {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def vafa_env(database_url: str, secret_key: str, **extra: str) -> dict[str, str]:
    """The environment of every vafa process of a run. The worker stays out of the API process
    unless a script asks for it (VAFA_WORKER_IN_PROCESS=true)."""
    env = dict(os.environ)
    env.update(
        VAFA_DATABASE_URL=database_url,
        VAFA_SECRET_KEY=secret_key,
        VAFA_LOG_LEVEL="warning",
        VAFA_WORKER_IN_PROCESS="false",
    )
    env.update(extra)
    return env


# -- databases ----------------------------------------------------------------------------------


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def database_name(url: str) -> str:
    """The PostgreSQL database name, or the SQLite file's name."""
    name = make_url(url).database or ""
    return Path(name).name if is_sqlite(url) else name


def require_bench_database(url: str) -> None:
    """Refuse to touch any database that is not a benchmark database."""
    if not database_name(url).startswith(BENCH_PREFIX):
        raise SystemExit(
            f"refusing to use {database_name(url)!r}: benchmark databases (PostgreSQL name or "
            f"SQLite file name) must start with {BENCH_PREFIX!r}"
        )


def sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def absolute_url(url: str) -> str:
    """A SQLite URL with an absolute file path (every process of a run agrees on the file)."""
    if not is_sqlite(url):
        return url
    path = sqlite_path(url).resolve()
    return make_url(url).set(database=str(path)).render_as_string(hide_password=False)


def sqlite_url(directory: Path, name: str = f"{BENCH_PREFIX}.db") -> str:
    return f"sqlite+aiosqlite:///{directory / name}"


def pg_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def recreate_pg_database(server_url: str, name: str) -> str:
    """Drop and create ``name`` (a vafa_bench* database) on the server; returns its URL."""
    url = pg_url(server_url, name)
    require_bench_database(url)
    asyncio.run(
        _pg_admin(
            server_url,
            [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'],
        )
    )
    return url


def recreate_database(url: str) -> None:
    """Start a vafa_bench* database afresh: delete the SQLite file, or drop and create the
    PostgreSQL database."""
    require_bench_database(url)
    if is_sqlite(url):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path(url)}{suffix}").unlink(missing_ok=True)
    else:
        recreate_pg_database(url, database_name(url))


def drop_pg_database(server_url: str, name: str) -> None:
    require_bench_database(pg_url(server_url, name))
    asyncio.run(_pg_admin(server_url, [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']))


async def _pg_admin(server_url: str, statements: list[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(pg_url(server_url, "postgres")))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def query(url: str, sql: str, **params: Any) -> list[Any]:
    """Rows of one SQL statement (a fresh engine each call: for set-up and checks, not loops)."""

    async def go() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(sql), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(go())


def scalar(url: str, sql: str, **params: Any) -> Any:
    rows = query(url, sql, **params)
    return rows[0][0] if rows else None


# -- the bench shop -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopInfo:
    shop_id: int
    domain: str
    api_secret: str  # signs Shopify webhooks
    admin_api_key: str


def prepare_shop(url: str, env: Mapping[str, str]) -> ShopInfo:
    """Migrate, then take over the database's first Shopify shop, or create one with the CLI."""
    vafa(["migrate"], env)
    shop = adopt_shops(url, env["VAFA_SECRET_KEY"])
    if shop is not None:
        return shop
    secret = random_token(24)
    created = json.loads(
        vafa(
            [
                "shop",
                "add-shopify",
                "--domain",
                BENCH_DOMAIN,
                "--access-token",
                DEFAULT_TOKEN,
                "--api-secret",
                secret,
            ],
            env,
        )
    )
    return ShopInfo(created["shop_id"], BENCH_DOMAIN, secret, created["admin_api_key"])


def adopt_shops(url: str, secret_key: str) -> ShopInfo | None:
    """Give every shop of a benchmark database new credentials sealed with ``secret_key`` and a
    new admin key, so a run can sign webhooks and call the API of a database seeded earlier
    (the admin key is shown only once, and the seed's VAFA_SECRET_KEY is not kept).
    Returns the first Shopify shop, or None if there is none."""
    require_bench_database(url)
    vault = Vault(secret_key)

    async def go() -> ShopInfo | None:
        engine = create_async_engine(url)
        first: ShopInfo | None = None
        try:
            async with engine.begin() as conn:
                shops = (
                    await conn.execute(text("SELECT id, platform, domain FROM shops ORDER BY id"))
                ).all()
                for shop_id, platform, domain in shops:
                    secret = random_token(24)
                    admin_key = f"{ADMIN_KEY_PREFIX}{shop_id}_{random_token()}"
                    credentials = (
                        {"access_token": DEFAULT_TOKEN, "api_secrets": [secret]}
                        if platform == "shopify"
                        else {
                            "consumer_key": "ck_bench",
                            "consumer_secret": "cs_bench",
                            "webhook_secrets": [secret],
                        }
                    )
                    await conn.execute(
                        text(
                            "UPDATE shops SET credentials = :c, admin_key_hash = :h WHERE id = :id"
                        ),
                        {"c": vault.seal(credentials), "h": sha256_hex(admin_key), "id": shop_id},
                    )
                    if first is None and platform == "shopify":
                        first = ShopInfo(shop_id, domain, secret, admin_key)
        finally:
            await engine.dispose()
        return first

    return asyncio.run(go())


def sample_customers(url: str, shop_id: int, count: int) -> list[str]:
    """Up to ``count`` random customer ids of the shop's members."""
    rows = query(
        url,
        "SELECT customer_id FROM members WHERE shop_id = :s ORDER BY random() LIMIT :n",
        s=shop_id,
        n=count,
    )
    return [row[0] for row in rows]


def customers_for_orders(url: str, shop_id: int, count: int) -> list[int]:
    """``count`` customer ids for new orders: existing members where the database has them
    (a seeded database), else new ones numbered like the seed's."""
    existing = [int(c) for c in sample_customers(url, shop_id, count) if c.isdigit()]
    return existing or [CUSTOMER_BASE + i for i in range(count)]


# -- payloads -----------------------------------------------------------------------------------

NOTE = "Please leave the parcel with the neighbour at number 12 if nobody is home. "


@cache
def _order_template() -> dict[str, Any]:
    order: dict[str, Any] = orjson.loads(ORDER_FIXTURE.read_bytes())
    return order


def order_body(order_id: int, customer_id: int, size: int = 8192) -> bytes:
    """A real Shopify order (the orders-create fixture), paid, with its own order and customer
    id, padded with note text to ``size`` bytes of compact JSON."""
    order = dict(_order_template())
    order["customer"] = dict(order["customer"])
    order.update(
        id=order_id,
        admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
        name=f"#{order_id}",
        financial_status="paid",
        note="",
    )
    order["customer"].update(
        id=customer_id, admin_graphql_api_id=f"gid://shopify/Customer/{customer_id}"
    )
    padding = size - len(orjson.dumps(order))
    if padding > 0:
        order["note"] = (NOTE * (padding // len(NOTE) + 1))[:padding]
    return orjson.dumps(order)


def sign(body: bytes, secret: str) -> str:
    """X-Shopify-Hmac-Sha256: base64(HMAC-SHA256(api secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def new_order_ids(count: int) -> range:
    """Order ids no earlier run (nor the seed) has used: they start at the current time."""
    start = time.time_ns() // 1000 * 10  # ~1.7e16, far above the seed's ids
    return range(start, start + count)


def run_nonce() -> str:
    """A short tag for the event ids of one run (hex: no LIKE wildcards)."""
    return f"{int(time.time()):x}{random_token(4).encode().hex()[:6]}"


async def insert_events(
    url: str, shop: ShopInfo, order_ids: range, customers: list[int], body_bytes: int
) -> None:
    """A pending orders/paid event per order, stored as intake stores them."""
    nonce = run_nonce()
    table = table_of(WebhookEvent)
    engine = create_async_engine(url)
    count = len(order_ids)
    try:
        for start in range(0, count, 500):
            rows: list[dict[str, Any]] = []
            for i in range(start, min(start + 500, count)):
                event_id = f"{nonce}-{i}"
                headers = {"topic": "orders/paid", "signature_ok": True, "event_id": event_id}
                rows.append(
                    {
                        "shop_id": shop.shop_id,
                        "topic": "orders/paid",
                        "dedupe_key": f"shopify:event:orders/paid:{event_id}",
                        "status": "pending",
                        "body": order_body(order_ids[i], customers[i % len(customers)], body_bytes),
                        "headers": orjson.dumps(headers).decode(),
                        "received_at": datetime.now(UTC),
                        "attempts": 0,
                    }
                )
            async with engine.begin() as conn:
                await conn.execute(insert(table), rows)
    finally:
        await engine.dispose()


# -- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def fake_store(
    customers: int, *, first: int = 1, unthrottled: bool = False, tally: Path | None = None
) -> Iterator[str]:
    """The fake Shopify (tests/fakes) in a process of its own, knowing customers ``first`` …
    ``first + customers - 1``; its URL. Throttled like Shopify's standard plan unless
    ``unthrottled``. Once stopped, it leaves its request counts in ``tally`` (JSON)."""
    command = [sys.executable, "-m", "tests.fakes.serve", "shopify",
               "--customers", str(customers), "--first-customer", str(first)]  # fmt: skip
    proc = subprocess.Popen(
        [*command, *(["--unthrottled"] if unthrottled else []),
         *(["--tally", str(tally)] if tally else [])],
        cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        stop_process(proc)


def stop_process(proc: Process, timeout: float = 15) -> None:
    """SIGTERM the process (it leads its own session), then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Server:
    """One server process: uvicorn serving bench.baseline_app (the real Vafa app plus the
    baseline routes), as ``vafa serve`` does, or ``vafa serve`` itself (:func:`serve_vafa`)."""

    proc: Process
    url: str
    log: Path

    def peak_rss_kib(self) -> int | None:
        return peak_rss_kib(self.proc.pid)


@contextlib.contextmanager
def serve(env: Mapping[str, str], log: Path, access_log: bool = False) -> Iterator[Server]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.baseline_app:app",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    cmd += ["--log-level", "info"] if access_log else ["--log-level", "warning", "--no-access-log"]
    with _started(cmd, port, env, log) as server:
        yield server


@contextlib.contextmanager
def serve_vafa(
    env: Mapping[str, str], log: Path, settings: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """``vafa serve`` as ``make run`` starts it: its own settings, worker and logging defaults
    (on SQLite the worker in the same process; uvicorn's access log at the default level),
    unless ``settings`` (``VAFA_*`` variables) say otherwise."""
    port = free_port()
    overrides = ("VAFA_WORKER_IN_PROCESS", "VAFA_LOG_LEVEL")
    defaults = {k: v for k, v in env.items() if k not in overrides} | dict(settings or {})
    cmd = [*vafa_command(), "serve", "--host", LOOPBACK, "--port", str(port)]
    with _started(cmd, port, defaults, log) as server:
        yield server


@contextlib.contextmanager
def _started(cmd: list[str], port: int, env: Mapping[str, str], log: Path) -> Iterator[Server]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, env=dict(env), cwd=REPO, stdout=out, stderr=out, start_new_session=True
        )
    server = Server(proc, f"http://{LOOPBACK}:{port}", log)
    try:
        _wait_ready(server)
        yield server
    finally:
        stop_process(proc)


def _wait_ready(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"the server exited ({server.proc.returncode}):\n{tail(server.log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the server did not become ready in {timeout} s:\n{tail(server.log)}")


@contextlib.contextmanager
def workers(env: Mapping[str, str], count: int, log: Path) -> Iterator[list[Process]]:
    """``count`` ``vafa worker`` processes, stopped when the block ends."""
    procs: list[Process] = []
    try:
        with log.open("ab") as out:
            for _ in range(count):
                procs.append(
                    subprocess.Popen(
                        [*vafa_command(), "worker"],
                        env=dict(env),
                        cwd=REPO,
                        stdout=out,
                        stderr=out,
                        start_new_session=True,
                    )
                )
        yield procs
    finally:
        for proc in procs:
            stop_process(proc)


# -- load ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookLoad:
    """Signed Shopify deliveries, cycled; each request gets a new event id ``NONCE-T-N``."""

    path: str
    bodies: list[bytes]
    signatures: list[str]
    domain: str
    nonce: str
    topic: str = "orders/paid"


@dataclass(frozen=True)
class GetLoad:
    paths: list[str]
    authorization: str


@dataclass(frozen=True)
class LoadResult:
    label: str
    loader: str
    requests: int  # responses received
    failed: int  # responses other than 2xx, plus connection errors and timeouts
    seconds: float
    p50_ms: float
    p99_ms: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return max(self.requests - self.failed, 0)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def pick_loader(requested: str) -> str:
    if requested == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk), or use --loader python")
    loader = requested
    if requested == "auto":
        loader = "wrk" if shutil.which("wrk") else "python"
    if loader == "python":
        print(
            "warning: the Python load generator saturates long before the server on a small "
            "machine; its figures and ratios are not results (apt-get install -y wrk)"
        )
    return loader


def run_load(
    label: str,
    base_url: str,
    load: WebhookLoad | GetLoad,
    *,
    loader: str,
    seconds: float,
    connections: int,
    threads: int,
    workdir: Path,
    max_requests: int = 5_000_000,
    server_pid: int | None = None,
) -> LoadResult:
    """``server_pid``: also the server's CPU time per request (``cpu_ms_per_request``): on this
    shared machine wall-clock rates move with everyone's load, CPU time per request far less."""
    if not 0 < seconds <= MAX_SECONDS:
        raise SystemExit(f"a load run lasts between 0 and {MAX_SECONDS} seconds")
    cpu_before = None if server_pid is None else cpu_seconds(server_pid)
    result = _run_load(label, base_url, load, loader=loader, seconds=seconds,
                       connections=connections, threads=threads, workdir=workdir,
                       max_requests=max_requests)  # fmt: skip
    cpu_after = None if server_pid is None else cpu_seconds(server_pid)
    if cpu_before is not None and cpu_after is not None and result.requests:
        result.extra["cpu_ms_per_request"] = round(
            1000 * (cpu_after - cpu_before) / result.requests, 3
        )
    return result


def _run_load(
    label: str,
    base_url: str,
    load: WebhookLoad | GetLoad,
    *,
    loader: str,
    seconds: float,
    connections: int,
    threads: int,
    workdir: Path,
    max_requests: int,
) -> LoadResult:
    if loader == "wrk":
        return run_wrk(
            label,
            base_url,
            load,
            seconds=seconds,
            connections=connections,
            threads=threads,
            workdir=workdir,
        )
    return asyncio.run(
        run_python(
            label,
            base_url,
            load,
            seconds=seconds,
            connections=connections,
            max_requests=max_requests,
        )
    )


def run_wrk(
    label: str,
    base_url: str,
    load: WebhookLoad | GetLoad,
    *,
    seconds: float,
    connections: int,
    threads: int,
    workdir: Path,
) -> LoadResult:
    """wrk with bench/load.lua, cycling through requests written to files in ``workdir``.
    wrk counts whole seconds: ``seconds`` is rounded (at least 1)."""
    if isinstance(load, WebhookLoad):
        bodies, sigs = workdir / "bodies.txt", workdir / "signatures.txt"
        bodies.write_bytes(b"\n".join(load.bodies) + b"\n")
        sigs.write_text("\n".join(load.signatures) + "\n")
        url = base_url + load.path
        args = ["webhook", str(bodies), str(sigs), load.domain, load.topic, load.nonce]
    else:
        paths = workdir / "paths.txt"
        paths.write_text("\n".join(load.paths) + "\n")
        url = base_url + "/"
        args = ["get", str(paths), load.authorization]
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LOAD_LUA),
        url,
        "--",
        *args,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    stats = json.loads(line.removeprefix("WRK_JSON "))
    return LoadResult(
        label=label,
        loader="wrk",
        requests=stats["requests"],
        failed=stats["status_errors"] + stats["socket_errors"],
        seconds=stats["duration_us"] / 1e6,
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        extra={"max_ms": stats["max_us"] / 1000},
    )


async def run_python(
    label: str,
    base_url: str,
    load: WebhookLoad | GetLoad,
    *,
    seconds: float,
    connections: int,
    max_requests: int,
) -> LoadResult:
    """The fallback loader: ``connections`` httpx clients in one asyncio loop. It needs a CPU
    core of its own and tops out far below wrk, so it understates fast endpoints."""
    latencies: list[float] = []
    failed = 0
    sent = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    def next_request(n: int) -> tuple[str, str, dict[str, str], bytes | None]:
        if isinstance(load, WebhookLoad):
            i = n % len(load.bodies)
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": load.topic,
                "X-Shopify-Hmac-Sha256": load.signatures[i],
                "X-Shopify-Shop-Domain": load.domain,
                "X-Shopify-Event-Id": f"{load.nonce}-p-{n}",
            }
            return "POST", load.path, headers, load.bodies[i]
        return "GET", load.paths[n % len(load.paths)], {"Authorization": load.authorization}, None

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10) as client:

        async def connection() -> None:
            nonlocal failed, sent
            while time.perf_counter() < deadline and sent < max_requests:
                method, path, headers, body = next_request(sent)
                sent += 1
                started = time.perf_counter()
                try:
                    response = await client.request(method, path, headers=headers, content=body)
                except httpx.HTTPError:
                    failed += 1
                    continue
                latencies.append(time.perf_counter() - started)
                if not 200 <= response.status_code < 300:
                    failed += 1

        started = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadResult(
        label=label,
        loader="python",
        requests=len(latencies),
        failed=failed,
        seconds=elapsed,
        p50_ms=_percentile(latencies, 50) * 1000,
        p99_ms=_percentile(latencies, 99) * 1000,
    )


def _percentile(ordered: list[float], pct: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


# -- command-line options shared by the HTTP benchmarks -----------------------------------------


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help="use this vafa_bench* database (e.g. one filled by seed_million) instead of a "
        "fresh SQLite file in a temporary directory",
    )
    parser.add_argument(
        "--recreate", action="store_true", help="start --database-url afresh (drop/create)"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per target")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--loader", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--access-log", action="store_true", help="keep uvicorn's access log on, as `vafa serve`"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")


def resolve_database(args: argparse.Namespace, workdir: Path) -> str:
    """The database of a run: ``--database-url`` (afresh with ``--recreate``), or a new
    SQLite file in ``workdir``."""
    if not args.database_url:
        return sqlite_url(workdir)
    url = absolute_url(args.database_url)
    require_bench_database(url)
    if args.recreate:
        recreate_database(url)
    return url


# -- reporting ----------------------------------------------------------------------------------


def print_results(title: str, results: Sequence[LoadResult]) -> None:
    print(f"\n{title}")
    header = ("target", "req/s", "p50 ms", "p99 ms", "requests", "failed", "CPU ms/req")
    print("  {:<34} {:>9} {:>8} {:>8} {:>9} {:>7} {:>10}".format(*header))
    for r in results:
        cpu = r.extra.get("cpu_ms_per_request")
        print(
            f"  {r.label:<34} {r.rps:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
            f"{r.requests:>9} {r.failed:>7} {'' if cpu is None else f'{cpu:.3f}':>10}"
        )


def cpu_ratio(floor: LoadResult, target: LoadResult) -> float | None:
    """The floor's server CPU time per request over the target's: the rate ratio the target
    would have if the server's CPU were all it waited for (load-independent, unlike req/s)."""
    a, b = floor.extra.get("cpu_ms_per_request"), target.extra.get("cpu_ms_per_request")
    return a / b if a and b else None


def write_json(path: str | None, data: dict[str, Any]) -> None:
    """Also keep the figures as JSON (``--json FILE``) for docs/benchmarks.md."""
    if path:
        Path(path).write_text(json.dumps(data, indent=2, default=str) + "\n")
        print(f"results written to {path}")


def result_dict(r: LoadResult) -> dict[str, Any]:
    return {
        "label": r.label,
        "loader": r.loader,
        "requests": r.requests,
        "failed": r.failed,
        "seconds": round(r.seconds, 3),
        "rps": round(r.rps, 1),
        "p50_ms": round(r.p50_ms, 3),
        "p99_ms": round(r.p99_ms, 3),
        **r.extra,
    }
