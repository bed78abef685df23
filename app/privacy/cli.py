"""``vafa privacy``: a store owner's privacy requests carried out by an operator (an export
printed as JSON, a member anonymised, a shop deleted) and the shop's body retention."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.privacy.models import RequestKind

privacy_cli = typer.Typer(
    no_args_is_help=True, help="Export or anonymise a member, delete a shop's data, retention."
)
Shop = Annotated[int, typer.Option("--shop", help="the shop's id")]
Customer = Annotated[str, typer.Option("--customer", help="the platform's customer id")]


def _member_request(shop: int, customer: str, kind: str) -> dict[str, Any]:
    from app.cli import _write
    from app.privacy import service
    from app.privacy.schemas import ExportOut, RedactionOut

    async def go(session: AsyncSession) -> dict[str, Any]:
        request = await service.for_member_now(session, shop, kind, customer, source="cli")
        shown = ExportOut.of(request) if kind == RequestKind.EXPORT else RedactionOut.of(request)
        return shown.model_dump(mode="json")

    return _write(go)


@privacy_cli.command("export")
def export(shop: Shop, customer: Customer) -> None:
    """Print everything Vafa holds on a member as JSON (kept as an export for the admin API)."""
    from app.cli import _emit

    _emit(_member_request(shop, customer, RequestKind.EXPORT))


@privacy_cli.command("redact")
def redact(shop: Shop, customer: Customer) -> None:
    """Anonymise a member: personal data and the webhook bodies about them; points stay."""
    from app.cli import _emit

    _emit(_member_request(shop, customer, RequestKind.REDACT_CUSTOMER))


@privacy_cli.command("exports")
def list_exports(
    shop: Shop,
    customer: Annotated[str | None, typer.Option("--customer", help="only this customer's")] = None,
) -> None:
    """List the shop's exports, newest first (without their documents)."""
    from app.cli import _emit, _run
    from app.privacy import service
    from app.privacy.schemas import RequestOut

    async def go(db: Any) -> list[dict[str, Any]]:
        async with db.read() as session:
            found = await service.exports(session, shop, customer_id=customer, limit=10_000)
            return [RequestOut.of(r).model_dump(mode="json") for r in found]

    _emit({"exports": _run(go)})


@privacy_cli.command("delete-shop")
def delete_shop(
    shop: Shop,
    yes: Annotated[bool, typer.Option("--yes", help="confirm: this cannot be undone")] = False,
) -> None:
    """Delete every row of the shop and the shop itself (what Shopify's shop/redact does)."""
    from app.cli import _emit, _fail, _write
    from app.privacy import service
    from app.shops.models import Shop as ShopRow

    if not yes:
        raise _fail("deleting a shop's data cannot be undone: add --yes")

    async def go(session: AsyncSession) -> dict[str, int]:
        if await session.get(ShopRow, shop) is None:
            raise _fail(f"no shop {shop}")
        return await service.redact_shop(session, shop)

    counts = _write(go)
    _emit({"shop_id": shop, "deleted": counts})


@privacy_cli.command("retention")
def retention(
    shop: Shop,
    days: Annotated[
        int | None, typer.Option(min=0, help="keep processed webhook bodies this many days")
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="keep bodies (the default)")] = False,
) -> None:
    """Show or set how long the shop's processed webhook bodies are kept."""
    from app.cli import _emit, _fail, _write
    from app.privacy import service
    from app.shops.models import Shop as ShopRow

    if keep and days is not None:
        raise _fail("give --days or --keep, not both")

    async def go(session: AsyncSession) -> int | None:
        if await session.get(ShopRow, shop) is None:
            raise _fail(f"no shop {shop}")
        if keep or days is not None:
            await service.set_retention_days(session, shop, None if keep else days)
        return await service.retention_days(session, shop)

    _emit({"shop_id": shop, "webhook_body_retention_days": _write(go)})


@privacy_cli.command("requests")
def list_requests(
    shop: Shop,
    status: Annotated[str | None, typer.Option(help="pending, done, failed or erased")] = None,
) -> None:
    """List the shop's privacy requests of every kind, newest first, with their last error."""
    from app.cli import _emit, _run
    from app.privacy import service
    from app.privacy.schemas import RequestOut

    async def go(db: Any) -> list[dict[str, Any]]:
        async with db.read() as session:
            found = await service.requests(session, shop, status=status, limit=10_000)
            return [RequestOut.of(r).model_dump(mode="json") for r in found]

    _emit({"requests": _run(go)})


@privacy_cli.command("retry")
def retry(
    request_id: Annotated[int, typer.Option("--id", help="the failed request's id")],
) -> None:
    """Queue a failed request again: the worker's next tick carries it out."""
    from app.cli import _emit, _write
    from app.privacy import service
    from app.privacy.schemas import RequestOut

    async def go(session: AsyncSession) -> dict[str, Any]:
        return RequestOut.of(await service.retry(session, request_id)).model_dump(mode="json")

    _emit(_write(go))
