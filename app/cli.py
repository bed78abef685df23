"""The ``vafa`` command."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings, get_settings
from app.crypto import SecretKeyError, Vault, new_secret_key
from app.db import Database
from app.errors import AppError
from app.jobs.models import JobStatus
from app.logs import configure as configure_logs
from app.shops.service import NewShop
from app.webhooks.models import EventStatus

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="Vafa customer club.")
shop_cli = typer.Typer(no_args_is_help=True, help="Add and list shops.")
ledger_cli = typer.Typer(no_args_is_help=True, help="Check the points ledger.")
events_cli = typer.Typer(no_args_is_help=True, help="Inspect and replay webhook events.")
jobs_cli = typer.Typer(no_args_is_help=True, help="Inspect and retry jobs.")
cli.add_typer(shop_cli, name="shop")
cli.add_typer(ledger_cli, name="ledger")
cli.add_typer(events_cli, name="events")
cli.add_typer(jobs_cli, name="jobs")

err = Console(stderr=True)
ROOT = Path(__file__).resolve().parent.parent


def _settings() -> Settings:
    settings = get_settings()
    configure_logs(settings.log_level, settings.log_json)
    return settings


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _emit(data: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(data).decode() + "\n")


@cli.command("secret-key")
def secret_key() -> None:
    """Print a new key for VAFA_SECRET_KEY."""
    sys.stdout.write(new_secret_key() + "\n")


def _project_root() -> Path:
    """Where alembic.ini and migrations/ are: beside the package in a checkout (editable
    install), else the working directory (an installed package, as in the Docker image)."""
    for candidate in (ROOT, Path.cwd()):
        if (candidate / "migrations" / "env.py").is_file():
            return candidate
    raise _fail("cannot find migrations/: run vafa from the project directory")


def run_migrations(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    root = _project_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    settings = _settings()
    run_migrations(settings.database_url)
    err.print(f"database is up to date ({_redact(settings.database_url)})")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Run the HTTP API (and, on SQLite, the worker in the same process)."""
    import uvicorn

    from app.main import create_app

    settings = _settings()
    try:
        Vault(settings.secret_key)
    except SecretKeyError as exc:
        raise _fail(str(exc)) from exc
    base = f"http://{host}:{port}"
    worker = "in this process" if settings.run_worker_in_process else "run `vafa worker` too"
    err.print(
        f"[bold]Vafa[/bold] on {base}\n"
        f"  database:      {_redact(settings.database_url)} (worker: {worker})\n"
        f"  API docs:      {base}/docs\n"
        f"  add a shop:    vafa shop add-shopify --domain NAME.myshopify.com "
        f"--access-token T --api-secret S\n"
        f"                 vafa shop add-woocommerce --url https://STORE --consumer-key K "
        f"--consumer-secret S\n"
        f"  webhooks go to {base}/webhooks/shopify and {base}/webhooks/woocommerce/<shop_id>",
        soft_wrap=True,  # commands a newcomer copies must not be broken across lines
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level)


@cli.command()
def worker() -> None:
    """Process accepted events, run jobs and the periodic tasks (for PostgreSQL deployments)."""
    from app.state import AppState

    settings = _settings()

    async def main() -> None:
        state = AppState.build(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await state.worker.run_forever(stop)
        finally:
            await state.db.dispose()

    asyncio.run(main())


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        rest = f"{creds.split(':')[0]}:***@{host}" if ":" in creds else rest
    return f"{scheme}{sep}{rest}"


async def _with_db(settings: Settings, fn: Any) -> Any:
    db = Database(settings.database_url)
    try:
        return await fn(db)
    finally:
        await db.dispose()


def _run(coro_fn: Any) -> Any:
    settings = _settings()
    try:
        return asyncio.run(_with_db(settings, coro_fn))
    except (AppError, SecretKeyError) as exc:
        raise _fail(exc.message if isinstance(exc, AppError) else str(exc)) from exc


def _add_shop(create: Callable[[AsyncSession, Vault], Awaitable[NewShop]]) -> None:
    async def go(db: Database) -> NewShop:
        vault = Vault(get_settings().secret_key)
        async with db.write() as session:
            return await create(session, vault)

    shop: NewShop = _run(go)
    _emit(shop.as_json())


@shop_cli.command("add-shopify")
def add_shopify(
    domain: Annotated[str, typer.Option(help="the shop's NAME.myshopify.com domain")],
    access_token: Annotated[str, typer.Option(help="Admin API access token")],
    api_secret: Annotated[str, typer.Option(help="API secret key (signs webhooks)")],
    api_url: Annotated[str | None, typer.Option(help="Admin API base URL (a local fake)")] = None,
) -> None:
    """Add a Shopify shop (a custom app's token and secret). Prints the shop as JSON."""
    from app.shops import service

    _add_shop(
        lambda session, vault: service.add_shopify(
            session,
            vault,
            domain=domain,
            access_token=access_token,
            api_secret=api_secret,
            api_url=api_url,
        )
    )


@shop_cli.command("add-woocommerce")
def add_woocommerce(
    url: Annotated[str, typer.Option(help="the store's URL, e.g. https://shop.example")],
    consumer_key: Annotated[str, typer.Option(help="REST API consumer key (ck_…)")],
    consumer_secret: Annotated[str, typer.Option(help="REST API consumer secret (cs_…)")],
    webhook_secret: Annotated[
        str | None, typer.Option(help="secret for the store's webhooks (generated if omitted)")
    ] = None,
) -> None:
    """Add a WooCommerce store. Prints the shop as JSON, with the webhook URL path and secret."""
    from app.shops import service

    _add_shop(
        lambda session, vault: service.add_woocommerce(
            session,
            vault,
            url=url,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            webhook_secret=webhook_secret,
        )
    )


@shop_cli.command("list")
def list_shops() -> None:
    """List shops (never their credentials)."""
    from app.shops.models import Shop

    async def go(db: Database) -> list[Any]:
        async with db.read() as session:
            query = select(Shop.id, Shop.platform, Shop.domain, Shop.status).order_by(Shop.id)
            return list((await session.execute(query)).all())

    table = Table("shop_id", "platform", "domain", "status")
    for row in _run(go):
        table.add_row(str(row.id), row.platform, row.domain, row.status)
    Console().print(table)


@ledger_cli.command("verify")
def verify(
    shop: Annotated[int | None, typer.Option(help="only this shop_id")] = None,
) -> None:
    """Recompute every balance and lot from postings; exit 1 on any difference."""
    from app.ledger.verify import Problem, verify_shop
    from app.shops.models import Shop

    async def go(db: Database) -> list[Problem]:
        async with db.read() as session:
            query = select(Shop.id).order_by(Shop.id)
            if shop is not None:
                query = query.where(Shop.id == shop)
            ids = list((await session.scalars(query)).all())
        if shop is not None and not ids:
            raise _fail(f"no shop {shop}")
        problems: list[Problem] = []
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("verifying shops", total=len(ids))
            for shop_id in ids:
                async with db.read() as session:
                    problems += await verify_shop(session, shop_id)
                progress.advance(task)
        err.print(f"verified {len(ids)} shop(s)")
        return problems

    problems = _run(go)
    for p in problems:
        err.print(f"[red]shop {p.shop_id}:[/red] {p.what}")
    if problems:
        raise typer.Exit(1)
    err.print("[green]ledger OK[/green]: every balance and lot matches its postings")


class ListedStatus(StrEnum):
    PENDING = EventStatus.PENDING
    PROCESSED = EventStatus.PROCESSED
    IGNORED = EventStatus.IGNORED
    REJECTED = EventStatus.REJECTED
    FAILED = EventStatus.FAILED


class ReplayedStatus(StrEnum):
    FAILED = EventStatus.FAILED
    REJECTED = EventStatus.REJECTED
    PROCESSED = EventStatus.PROCESSED
    IGNORED = EventStatus.IGNORED


@events_cli.command("list")
def list_events(
    status: Annotated[ListedStatus, typer.Option(help="which events")] = ListedStatus.FAILED,
    shop: Annotated[int | None, typer.Option(help="only this shop_id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """List events by status, newest first, with their last error."""
    from app.webhooks.models import WebhookEvent

    async def go(db: Database) -> list[Any]:
        ev = WebhookEvent
        query = select(ev.id, ev.shop_id, ev.topic, ev.status, ev.attempts, ev.received_at,
                       ev.last_error).where(ev.status == status.value)  # fmt: skip
        if shop is not None:
            query = query.where(ev.shop_id == shop)
        async with db.read() as session:
            return list((await session.execute(query.order_by(ev.id.desc()).limit(limit))).all())

    table = Table("id", "shop", "topic", "status", "attempts", "received", "last error")
    for r in _run(go):
        table.add_row(str(r.id), str(r.shop_id), r.topic, r.status, str(r.attempts),
                      r.received_at.isoformat(timespec="seconds"), r.last_error or "")  # fmt: skip
    Console().print(table)


@events_cli.command("replay")
def replay_events(
    event_id: Annotated[list[int] | None, typer.Option("--id", help="replay these events")] = None,
    shop: Annotated[int | None, typer.Option(help="only this shop_id")] = None,
    status: Annotated[
        ReplayedStatus, typer.Option(help="replay every event with this status")
    ] = ReplayedStatus.FAILED,
) -> None:
    """Queue failed (or chosen) events again; the worker applies them. Applying an event twice
    posts nothing new; a rejected event is parsed again."""
    from app.webhooks.processing import replay

    count = _run(lambda db: replay(db, shop_id=shop, event_ids=event_id or [], status=status.value))
    err.print(f"queued {count} event(s) again")


@events_cli.command("process")
def process_events() -> None:
    """Process every due event now, then exit (a one-shot worker)."""
    from app.shops.service import ShopDirectory
    from app.webhooks.processing import EventProcessor

    async def go(db: Database) -> int:
        settings = get_settings()
        shops = ShopDirectory(db, Vault(settings.secret_key), settings.shop_cache_seconds)
        return await EventProcessor(db, shops, settings).drain()

    err.print(f"processed {_run(go)} event(s)")


class JobStatusChoice(StrEnum):
    PENDING = JobStatus.PENDING
    RUNNING = JobStatus.RUNNING
    DONE = JobStatus.DONE
    FAILED = JobStatus.FAILED


@jobs_cli.command("list")
def list_jobs(
    status: Annotated[JobStatusChoice | None, typer.Option(help="only jobs in this state")] = None,
    kind: Annotated[str | None, typer.Option(help="only jobs of this kind")] = None,
    shop: Annotated[int | None, typer.Option(help="only this shop_id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """List jobs, newest first, with their last error."""
    from app.jobs import service

    async def go(db: Database) -> list[Any]:
        async with db.read() as session:
            jobs = await service.list_jobs(session, status=status.value if status else None,
                                           kind=kind, shop_id=shop, limit=limit)  # fmt: skip
            return list(jobs)

    table = Table("id", "shop", "kind", "key", "status", "attempts", "run after", "last error")
    for j in _run(go):
        table.add_row(str(j.id), str(j.shop_id), j.kind, j.dedupe_key or "", j.status,
                      str(j.attempts), j.run_after.isoformat(timespec="seconds"),
                      j.last_error or "")  # fmt: skip
    Console().print(table)


@jobs_cli.command("retry")
def retry_jobs(
    job_id: Annotated[list[int] | None, typer.Option("--id", help="retry these jobs")] = None,
    kind: Annotated[str | None, typer.Option(help="only jobs of this kind")] = None,
    shop: Annotated[int | None, typer.Option(help="only this shop_id")] = None,
) -> None:
    """Queue parked (failed) jobs again with a fresh count of attempts; named by --id, a done
    job is run again too."""
    from app.jobs import service

    async def go(db: Database) -> int:
        async with db.write() as session:
            return await service.retry(session, job_ids=job_id or [], kind=kind, shop_id=shop)

    err.print(f"queued {_run(go)} job(s) again")


def main() -> None:
    cli()
