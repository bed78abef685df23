"""The ``vafa`` command."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings, get_settings
from app.connectors.base import Platform
from app.crypto import SecretKeyError, Vault, new_secret_key
from app.db import Database
from app.errors import AppError
from app.jobs.models import JobStatus
from app.logs import configure as configure_logs
from app.logs import uvicorn_options
from app.privacy.cli import privacy_cli
from app.schema import DatabaseNotReady, check_database, error_reason, location, upgrade
from app.shops.service import NewShop
from app.webhooks.models import EventStatus

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="Vafa customer club.")
shop_cli = typer.Typer(no_args_is_help=True, help="Add, inspect and change shops.")
ledger_cli = typer.Typer(no_args_is_help=True, help="Check the points ledger.")
events_cli = typer.Typer(no_args_is_help=True, help="Inspect and replay webhook events.")
jobs_cli = typer.Typer(no_args_is_help=True, help="Inspect and retry jobs.")
import_cli = typer.Typer(no_args_is_help=True, help="Import members from CSV.")
export_cli = typer.Typer(no_args_is_help=True, help="Export members and the ledger as CSV.")
reports_cli = typer.Typer(no_args_is_help=True, help="The reports' daily rollup.")
admin_cli = typer.Typer(no_args_is_help=True, help="Who can sign in to a shop's admin.")
admin_user_cli = typer.Typer(no_args_is_help=True, help="Admin users (e-mail and password).")
program_cli = typer.Typer(no_args_is_help=True, help="Show and set a shop's program.")
cli.add_typer(shop_cli, name="shop")
cli.add_typer(ledger_cli, name="ledger")
cli.add_typer(events_cli, name="events")
cli.add_typer(jobs_cli, name="jobs")
cli.add_typer(admin_cli, name="admin")
cli.add_typer(reports_cli, name="reports")
cli.add_typer(import_cli, name="import")
cli.add_typer(export_cli, name="export")
admin_cli.add_typer(admin_user_cli, name="user")
cli.add_typer(privacy_cli, name="privacy")
cli.add_typer(program_cli, name="program")

err = Console(stderr=True)


def _settings() -> Settings:
    settings = get_settings()
    configure_logs(settings.log_level, settings.log_json)
    return settings


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)  # one line, as written
    return typer.Exit(code)


def _emit(data: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(data).decode() + "\n")


@cli.command("secret-key")
def secret_key() -> None:
    """Print a new key for VAFA_SECRET_KEY."""
    sys.stdout.write(new_secret_key() + "\n")


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"vafa {package_version('vafa')}\n")
        raise typer.Exit()


@cli.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Vafa customer club."""


def run_migrations(url: str) -> None:
    """Bring the schema at ``url`` to head, with the migrations shipped in the package."""
    upgrade(url)


def _require_database(settings: Settings) -> None:
    """Exit with one line unless the database exists, answers and is migrated."""
    try:
        asyncio.run(check_database(settings.database_url))
    except DatabaseNotReady as exc:
        raise _fail(exc.message) from exc


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date (creating a SQLite file if there is none)."""
    from sqlalchemy.exc import DBAPIError

    settings = _settings()
    where = location(settings.database_url)
    try:
        run_migrations(settings.database_url)
    except DatabaseNotReady as exc:
        raise _fail(exc.message) from exc
    except (OSError, DBAPIError) as exc:
        raise _fail(f"cannot migrate the database at {where}: {error_reason(exc)}") from exc
    err.print(f"database is up to date ({escape(where)})", soft_wrap=True)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT", help="port to listen on")] = 8000,
    proxy_headers: Annotated[
        bool, typer.Option(help="trust X-Forwarded-For/-Proto from --forwarded-allow-ips")
    ] = True,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            envvar="VAFA_FORWARDED_ALLOW_IPS",
            help="comma-separated proxy addresses (or *) whose forwarded headers are trusted",
        ),
    ] = "127.0.0.1",
) -> None:
    """Run the HTTP API (and, on SQLite, the worker in the same process)."""
    import uvicorn

    from app.main import create_app

    settings = _settings()
    try:
        Vault(settings.secret_key)
    except SecretKeyError as exc:
        raise _fail(str(exc)) from exc
    _require_database(settings)
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
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        **uvicorn_options(),
    )


@cli.command()
def worker() -> None:
    """Process accepted events, run jobs and the periodic tasks (for PostgreSQL deployments)."""
    from app.state import AppState, freeze_start_up

    settings = _settings()
    _require_database(settings)

    async def main() -> None:
        state = AppState.build(settings)
        freeze_start_up()
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
    await check_database(settings.database_url)  # never creates a missing SQLite file
    db = Database(settings.database_url)
    try:
        return await fn(db)
    finally:
        await db.dispose()


def _run(coro_fn: Any) -> Any:
    settings = _settings()
    try:
        return asyncio.run(_with_db(settings, coro_fn))
    except (AppError, DatabaseNotReady, SecretKeyError) as exc:
        raise _fail(str(exc)) from exc


T = TypeVar("T")


def _vault() -> Vault:
    """What seals and opens credentials (only the commands that touch them need the key)."""
    return Vault(get_settings().secret_key)


def _write(change: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``change`` in one write transaction."""

    async def go(db: Database) -> T:
        async with db.write() as session:
            return await change(session)

    result: T = _run(go)
    return result


def _add_shop(create: Callable[[AsyncSession, Vault], Awaitable[NewShop]]) -> None:
    """Add the shop and, in the same transaction, ask for its webhook subscriptions (made by
    the worker); without VAFA_PUBLIC_URL the shop is added all the same, and the message says
    what to do."""
    from app.sync import tasks, webhooks

    public_url = webhooks.public_url()

    async def add(session: AsyncSession) -> NewShop:
        shop = await create(session, _vault())
        if public_url is not None:
            await tasks.enqueue_webhook_sync(session, shop.shop_id)
        return shop

    shop = _write(add)
    _emit(shop.as_json())
    if public_url is None:
        err.print(str(webhooks.NoPublicURL(shop.shop_id, shop.platform)), soft_wrap=True)
    else:
        address = webhooks.delivery_address(public_url, shop.shop_id, shop.platform)
        err.print(f"the worker subscribes the store's webhooks to {address}", soft_wrap=True)


def _takes_effect() -> str:
    seconds = get_settings().shop_cache_seconds
    return (
        f"running servers and workers see it within {seconds:g} s "
        "(their shop cache, VAFA_SHOP_CACHE_SECONDS)"
    )


@shop_cli.command("add-shopify")
def add_shopify(
    domain: Annotated[str, typer.Option(help="the shop's NAME.myshopify.com domain")],
    access_token: Annotated[
        str | None, typer.Option(help="Admin API access token (shpat_…), with --api-secret")
    ] = None,
    api_secret: Annotated[
        str | None, typer.Option(help="API secret key (signs webhooks), with --access-token")
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option(help="a Dev Dashboard app's client id, with --client-secret"),
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(help="the app's client secret (gets tokens, signs webhooks)"),
    ] = None,
    api_url: Annotated[str | None, typer.Option(help="Admin API base URL (a local fake)")] = None,
) -> None:
    """Add a Shopify shop: a custom app's token and secret, or a Dev Dashboard app's client id
    and secret (Vafa then obtains its expiring tokens itself). Prints the shop as JSON."""
    from app.shops import service

    _add_shop(
        lambda session, vault: service.add_shopify(
            session,
            vault,
            domain=domain,
            access_token=access_token,
            api_secret=api_secret,
            client_id=client_id,
            client_secret=client_secret,
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


@shop_cli.command("show")
def show_shop(shop_id: Annotated[int, typer.Argument(help="the shop's id")]) -> None:
    """Print a shop as JSON: platform, domain, status, webhook URL, settings (never secrets)."""
    from app.shops import service
    from app.shops.models import Shop
    from app.sync.orders import backfill_progress

    async def go(db: Database) -> dict[str, Any]:
        async with db.read() as session:
            shop = await session.get(Shop, shop_id)
            if shop is None:
                raise _fail(f"no shop {shop_id}")
            shown = service.describe(shop)
        imported, finished = await backfill_progress(db, shop_id)
        if imported is not None:  # the first backfill of a connected store
            shown["backfill"] = {
                "orders_imported": imported,
                "finished_at": finished.isoformat(timespec="seconds") if finished else None,
            }
        return shown

    _emit(_run(go))


def _set_status(shop_id: int, status: str) -> None:
    from app.shops import service

    _write(lambda session: service.set_status(session, shop_id, status))
    refused = " (its webhooks and API requests get 401)" if status != service.ACTIVE else ""
    err.print(f"shop {shop_id} is {status}{refused}; {_takes_effect()}", soft_wrap=True)


@shop_cli.command("disable")
def disable_shop(shop_id: Annotated[int, typer.Argument(help="the shop's id")]) -> None:
    """Refuse the shop's webhooks and API requests (401) until `vafa shop enable`."""
    from app.shops.service import DISABLED

    _set_status(shop_id, DISABLED)


@shop_cli.command("enable")
def enable_shop(shop_id: Annotated[int, typer.Argument(help="the shop's id")]) -> None:
    """Accept the shop's webhooks and API requests again."""
    from app.shops.service import ACTIVE

    _set_status(shop_id, ACTIVE)


@shop_cli.command("resume")
def resume_shop(shop_id: Annotated[int, typer.Argument(help="the shop's id")]) -> None:
    """Let a paused shop's jobs run again, once its store credentials are fixed."""
    from app.shops import service

    shop = _write(lambda session: service.resume(session, shop_id))
    err.print(f"shop {shop.id} is active: its waiting jobs run again", soft_wrap=True)


@shop_cli.command("sync-webhooks")
def sync_webhooks(shop_id: Annotated[int, typer.Argument(help="the shop's id")]) -> None:
    """Subscribe the store's webhooks to this Vafa (VAFA_PUBLIC_URL), one per topic: creates
    what is missing, re-enables what the store disabled; safe to run again."""
    from app.connectors.clients import StoreClients
    from app.connectors.store import StoreError
    from app.shops.models import Shop
    from app.sync import webhooks

    async def go(db: Database) -> list[Any]:
        async with db.read() as session:
            shop = await session.get(Shop, shop_id)
        if shop is None:
            raise _fail(f"no shop {shop_id}")
        platform = Platform(shop.platform)
        stores = StoreClients(db, _vault())
        try:
            return await webhooks.sync_webhooks(stores, shop_id, platform, webhooks.public_url())
        except webhooks.NoPublicURL as exc:
            raise _fail(str(exc)) from exc
        except StoreError as exc:
            raise _fail(f"the store refused: {exc.message}") from exc
        finally:
            await stores.aclose()

    hooks = _run(go)
    table = Table("topic", "address", "active", "store id")
    for hook in hooks:
        table.add_row(hook.topic, hook.address, "yes" if hook.active else "no", hook.store_id)
    Console(stderr=True).print(table)
    err.print(f"{len(hooks)} webhook subscription(s) in place", soft_wrap=True)


@shop_cli.command("backfill")
def backfill(
    shop_id: Annotated[int, typer.Argument(help="the shop's id")],
    since: Annotated[
        datetime,
        typer.Option(formats=["%Y-%m-%d"], help="import the orders changed since this day (UTC)"),
    ],
    award: Annotated[
        bool,
        typer.Option(
            "--award/--no-award",
            help="award the points these orders earn; without it they are recorded, earning "
            "nothing, so that a later refund takes back nothing",
        ),
    ] = False,
) -> None:
    """Import the store's past orders through the same reconciliation webhooks go through.
    Orders Vafa already knows are reconciled as usual; running it again posts nothing new."""
    from app.connectors.clients import StoreClients
    from app.connectors.store import StoreError
    from app.shops.service import ShopDirectory
    from app.sync import orders, tasks

    start = since.replace(tzinfo=UTC)

    async def go(db: Database) -> int:
        vault = _vault()
        shop = await ShopDirectory(db, vault, 0).by_id(shop_id)
        if shop is None:
            raise _fail(f"no shop {shop_id}")
        tasks.install()  # the balances it moves are written back to the store by the worker
        stores = StoreClients(db, vault)
        imported = 0
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),  # pulses: the store does not say how many orders there are
            TextColumn("{task.completed} orders"),
            TimeElapsedColumn(),
        )
        try:
            with Progress(*columns, console=err, transient=True) as progress:
                task = progress.add_task(f"importing shop {shop_id}'s orders", total=None)
                async for page in orders.import_since(db, stores, shop, start, award=award):
                    imported += len(page)
                    progress.update(task, completed=imported)
        except StoreError as exc:
            raise _fail(f"the store refused after {imported} order(s): {exc.message}") from exc
        finally:
            await stores.aclose()
        return imported

    imported = _run(go)
    how = "points awarded" if award else "recorded without points"
    err.print(f"imported {imported} order(s) changed since {start.date()}: {how}", soft_wrap=True)


@shop_cli.command("rotate-secret")
def rotate_secret(
    shop_id: Annotated[int, typer.Argument(help="the shop's id")],
    secret: Annotated[
        str | None,
        typer.Option(
            help="the new secret: Shopify's new API secret key (required); for WooCommerce "
            "one is generated if omitted"
        ),
    ] = None,
) -> None:
    """Make a new webhook signing secret current; the previous one keeps verifying until the
    next rotation. WooCommerce: prints the new secret as JSON, to paste into the webhooks."""
    from app.connectors.base import Platform
    from app.shops import service
    from app.shops.models import Shop

    async def change(session: AsyncSession) -> str | None:
        shop = await session.get(Shop, shop_id)
        if shop is None:
            raise _fail(f"no shop {shop_id}")
        if shop.platform == Platform.SHOPIFY and not secret:
            raise _fail(
                "a Shopify shop's secret is its app's API secret key: give it with --secret"
            )
        new = secret or service.new_webhook_secret()
        await service.rotate_webhook_secret(session, _vault(), shop_id, new)
        return new if secret is None else None  # print only a secret Vafa made

    generated = _write(change)
    if generated is not None:
        _emit({"shop_id": shop_id, "webhook_secret": generated})
    err.print(
        f"shop {shop_id} has a new webhook secret; the previous one keeps verifying until the "
        f"next rotation; {_takes_effect()}",
        soft_wrap=True,
    )


@shop_cli.command("rotate-key")
def rotate_key(shop_id: Annotated[int, typer.Argument(help="the shop's id")]) -> None:
    """Give the shop a new admin API key, printed once as JSON; the old key stops working."""
    from app.shops import service

    key = _write(lambda session: service.rotate_admin_key(session, shop_id))
    _emit({"shop_id": shop_id, "admin_api_key": key})
    err.print(f"the old admin API key stops working: {_takes_effect()}", soft_wrap=True)


@shop_cli.command("rotate-storefront-secret")
def rotate_storefront_secret(
    shop_id: Annotated[int, typer.Argument(help="the shop's id (WooCommerce)")],
) -> None:
    """Give a WooCommerce shop a new storefront secret, printed once as JSON; tokens signed
    with the old one are refused. Sent to the store's Vafa club plugin when the shop has keys."""
    from app.sync import webhooks
    from app.woocommerce_app import service

    secret, unsent = _run(
        lambda db: service.rotate_storefront_secret(db, _vault(), shop_id, webhooks.public_url())
    )
    _emit({"shop_id": shop_id, "storefront_secret": secret, "pushed_to_store": unsent is None})
    if unsent is None:
        err.print("the store's Vafa club plugin has the new secret", soft_wrap=True)
    else:
        err.print(f"{unsent}: paste it under WooCommerce → Vafa club on the store", soft_wrap=True)
    err.print(f"the old secret stops working: {_takes_effect()}", soft_wrap=True)


def _parse_assignments(assignments: list[str]) -> Mapping[str, str]:
    changes: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise _fail(f"--set takes key=value, not {item!r}")
        changes[key.strip()] = value
    return changes


@shop_cli.command("settings")
def shop_settings(
    shop_id: Annotated[int, typer.Argument(help="the shop's id")],
    assignments: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="change a setting, e.g. --set hold_days=14 --set currency_exponents='{\"IRR\":0}'",
        ),
    ] = None,
) -> None:
    """Print the shop's program settings as JSON; with --set, change them first (validated,
    all or none)."""
    from app.program.settings import ProgramSettings
    from app.shops import service
    from app.shops.models import Shop

    changes = _parse_assignments(assignments or [])

    async def change(session: AsyncSession) -> ProgramSettings:
        if changes:
            return await service.update_settings(session, shop_id, changes)
        shop = await session.get(Shop, shop_id)
        if shop is None:
            raise _fail(f"no shop {shop_id}")
        return ProgramSettings.from_json(shop.settings)

    settings = _write(change)
    _emit(settings.to_json())
    if changes:
        err.print(f"settings saved; {_takes_effect()}", soft_wrap=True)


def _version_json(version: Any) -> dict[str, Any]:
    from app.program.schemas import ProgramVersionOut

    return ProgramVersionOut.of(version).model_dump(mode="json", exclude_none=True)


@program_cli.command("show")
def program_show(
    shop: Annotated[int, typer.Option(help="the shop's id")],
    all_versions: Annotated[
        bool, typer.Option("--all", help="every version, oldest first")
    ] = False,
) -> None:
    """Print the shop's newest program version (number, effective_at, document) as JSON."""
    from app.program import versions
    from app.shops.models import Shop

    async def go(db: Database) -> dict[str, Any]:
        async with db.read() as session:
            if await session.get(Shop, shop) is None:
                raise _fail(f"no shop {shop}")
            history = await versions.load(session, shop)
        if all_versions:
            return {"versions": [_version_json(v) for v in history.versions]}
        return _version_json(history.latest)

    _emit(_run(go))


@program_cli.command("set")
def program_set(
    file: Annotated[
        typer.FileText, typer.Argument(help="the program document (JSON; - for stdin)")
    ],
    shop: Annotated[int, typer.Option(help="the shop's id")],
    effective_at: Annotated[
        datetime | None,
        typer.Option(
            help="when it takes effect, with its UTC offset (default: now)",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z"],
        ),
    ] = None,
) -> None:
    """Validate the document and publish it as the shop's next program version."""
    from pydantic import ValidationError

    from app.orm import utcnow
    from app.program import service
    from app.program.document import ProgramDocument
    from app.program.versions import Version

    try:
        document = ProgramDocument.model_validate_json(file.read())
    except ValidationError as exc:
        for e in exc.errors():
            err.print(f"[red]{escape('.'.join(str(p) for p in e['loc']) or '(document)')}:[/red] "
                      f"{escape(e['msg'])}", soft_wrap=True)  # fmt: skip
        raise _fail("the program document is not valid; nothing was changed") from exc

    async def change(session: AsyncSession) -> tuple[Version, bool]:
        return await service.publish(session, shop, document, utcnow(), effective_at)

    version, created = _write(change)
    _emit(_version_json(version))
    err.print(
        f"version {version.version} published; {_takes_effect()}"
        if created
        else f"the same program as version {version.version}: nothing new was made",
        soft_wrap=True,
    )


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
    from app.connectors.clients import StoreClients
    from app.program.catalog import StoreCatalog
    from app.shops.service import ShopDirectory
    from app.webhooks.processing import EventProcessor

    async def go(db: Database) -> int:
        settings = get_settings()
        shops = ShopDirectory(db, Vault(settings.secret_key), settings.shop_cache_seconds)
        stores = StoreClients(db, shops.vault)
        try:  # product groups a program matches are fetched from the stores
            return await EventProcessor(db, shops, settings, StoreCatalog(stores)).drain()
        finally:
            await stores.aclose()

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


@program_cli.command("simulate")
def simulate_program(
    draft: Annotated[str, typer.Argument(help="the draft program document (JSON file)")],
    shop: Annotated[int, typer.Option(help="the shop_id")],
    since: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="replay the events received since this day (UTC)"),
    ] = None,
) -> None:
    """Replay the shop's stored events under DRAFT and under the live program, on throwaway
    databases (the live ledger is only read); print both outcomes as JSON."""
    from pathlib import Path

    from pydantic import ValidationError
    from rich.progress import MofNCompleteColumn, TimeRemainingColumn

    from app.program.document import ProgramDocument
    from app.program.simulate import simulate
    from app.program.simulation.prefetch import store_catalog
    from app.program.simulation.schemas import SimulationOut

    try:
        document = ProgramDocument.model_validate_json(Path(draft).read_bytes())
    except OSError as exc:
        raise _fail(f"cannot read {draft}: {exc.strerror}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise _fail(f"{draft} is not a valid program: {problems}") from exc

    async def go(db: Database) -> SimulationOut:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("events"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task(f"replaying shop {shop}'s events", total=None)
            fetch = None

            def fetching(done: int, total: int) -> None:
                # The products a collection/category draft needs, asked of the store first.
                nonlocal fetch
                if fetch is None:
                    fetch = progress.add_task(f"fetching shop {shop}'s products", total=total)
                progress.update(fetch, completed=done, total=total)

            # The key is read only if the draft's collections must be asked of a store.
            async with store_catalog(db, _vault) as catalog:
                return await simulate(
                    db,
                    shop,
                    document,
                    since.date() if since else None,
                    now=datetime.now(UTC),
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                    catalog=catalog,
                    fetching=fetching,
                )

    report: SimulationOut = _run(go)
    _emit(report.model_dump(mode="json"))
    table = Table("", "draft", "live program")
    for label, name in (
        ("points issued", "points_issued"),
        ("expected redemptions", "expected_redemptions"),
        ("points outstanding", "points_outstanding"),
        ("liability (minor units)", "liability_minor"),
        ("cost / revenue", "cost_share"),
    ):
        values = (getattr(outcome, name) for outcome in (report.draft, report.live))
        table.add_row(label, *("—" if v is None else str(v) for v in values))
    err.print(table)
    err.print(f"{report.events.replayed} events replayed in {report.seconds:.1f} s")


def main() -> None:
    cli()


# Asked for twice, never echoed (or from the environment, for scripts).
_Password = Annotated[
    str,
    typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                 envvar="VAFA_ADMIN_PASSWORD", help="at least 10 characters"),
]  # fmt: skip


@admin_user_cli.command("add")
def admin_user_add(
    shop: Annotated[int, typer.Option(help="the shop's id")],
    email: Annotated[str, typer.Option(help="the person's e-mail address")],
    password: _Password,
) -> None:  # fmt: skip
    """Let a person sign in to the shop's admin at /admin with an e-mail and a password."""
    from app.admin import auth

    user = _write(lambda session: auth.add_user(session, shop, email, password))
    _emit({"shop_id": shop, "admin_user_id": user.id})


@admin_cli.command("link")
def admin_link(shop: Annotated[int, typer.Option(help="the shop's id")]) -> None:
    """Print a one-time sign-in link to the shop's admin (valid 15 minutes, used once)."""
    from app.admin import auth
    from app.orm import utcnow

    token = _write(lambda session: auth.make_link(session, shop, utcnow()))
    base = (get_settings().public_url or "http://127.0.0.1:8000").rstrip("/")
    _emit({"shop_id": shop, "url": f"{base}/admin/link/{shop}/{token}", "expires_in_seconds": 900})


@import_cli.command("members")
def import_members(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a CSV file")],
    shop: Annotated[int, typer.Option(help="the shop's id")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="check every row and report; write nothing")
    ] = False,
    refused: Annotated[
        Path | None, typer.Option(help="write the refused rows and why to this CSV file")
    ] = None,
) -> None:
    """Import members with their opening balances (Vafa's, Smile.io's or WPLoyalty's CSV
    format). Each member's opening balance is imported once: running the file again changes
    nothing. Prints a JSON report; refused rows are listed with their line and reason."""
    import csv as csv_module

    from app.imports import members as importer

    text = file.read_text(encoding="utf-8-sig")
    total = max(sum(1 for line in text.splitlines()[1:] if line.strip()), 1)

    async def go(db: Database) -> importer.Report:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} rows"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("checking" if dry_run else "importing", total=total)
            return await importer.import_members(
                db, shop, text, dry_run=dry_run,
                progress=lambda n: progress.advance(task, n),
            )  # fmt: skip

    report: importer.Report = _run(go)
    if refused is not None:
        with refused.open("w", newline="", encoding="utf-8") as out:
            writer = csv_module.writer(out)
            writer.writerow(["line", "reason"])
            writer.writerows(report.refused)
    _emit({**report.as_json(), "dry_run": dry_run})


def _export(kind: str, shop: int, output: Path | None) -> None:
    from app.imports import exports

    async def go(db: Database) -> int:
        rows = 0
        stream = (
            exports.members_csv(db, shop) if kind == "members" else exports.ledger_csv(db, shop)
        )
        out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            async for chunk in stream:
                out.write(chunk)
                rows += chunk.count("\n")
        finally:
            if output:
                out.close()
        return rows - 1

    rows = _run(go)
    err.print(f"{rows} {kind} row(s) exported", soft_wrap=True)


@export_cli.command("members")
def export_members(
    shop: Annotated[int, typer.Option(help="the shop's id")],
    output: Annotated[Path | None, typer.Option(help="a file (default: standard output)")] = None,
) -> None:
    """Every member with their profile and balances, as CSV."""
    _export("members", shop, output)


@export_cli.command("ledger")
def export_ledger(
    shop: Annotated[int, typer.Option(help="the shop's id")],
    output: Annotated[Path | None, typer.Option(help="a file (default: standard output)")] = None,
) -> None:
    """Every ledger line of the shop, oldest first, as CSV."""
    _export("ledger", shop, output)


@reports_cli.command("rebuild")
def reports_rebuild(shop: Annotated[int, typer.Option(help="the shop's id")]) -> None:
    """Make every day of the shop's daily rollup again from the ledger and the orders (after an
    upgrade, or to check it: the scheduler keeps it up to date on its own)."""
    from app.orm import utcnow
    from app.reports import tasks as reports_tasks

    days = _run(lambda db: reports_tasks.rebuild_all(db, shop, utcnow()))
    _emit({"shop_id": shop, "days": days})


from app.segments.cli import segments_cli  # noqa: E402  (appended: the segments' commands)

cli.add_typer(segments_cli, name="segments")


@admin_user_cli.command("password")
def admin_user_password(
    shop: Annotated[int, typer.Option(help="the shop's id")],
    email: Annotated[str, typer.Option(help="the person's e-mail address")],
    password: _Password,
) -> None:  # fmt: skip
    """Give an admin user a new password; every session they have open is signed out."""
    from app.admin import auth
    from app.orm import utcnow

    revoked = _write(lambda session: auth.change_password(session, shop, email, password, utcnow()))
    _emit({"shop_id": shop, "sessions_revoked": revoked})


@admin_cli.command("sign-out-all")
def admin_sign_out_all(shop: Annotated[int, typer.Option(help="the shop's id")]) -> None:
    """Sign everyone out of the shop's admin now (a cookie copied from a browser included)."""
    from app.admin import auth
    from app.orm import utcnow

    revoked = _write(lambda session: auth.revoke(session, shop, utcnow()))
    _emit({"shop_id": shop, "sessions_revoked": revoked})
