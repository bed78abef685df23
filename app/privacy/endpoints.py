"""``/api/v1/privacy`` (exports, settings) and a member's ``export`` and ``redact`` under
``/api/v1/members``: the privacy duties for any shop, as a store owner asks for them (a
WooCommerce store has no compliance webhooks; a Shopify one may be asked directly too)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from app.api.deps import CurrentShop, ReadSession, WriteSession
from app.api.errors import error_responses
from app.api.routing import admin_router
from app.errors import InvalidRequest, MemberNotFound, PayloadTooLarge, ValidationFailed
from app.members.endpoints import CustomerId
from app.privacy import service
from app.privacy.models import RequestKind
from app.privacy.schemas import (
    ExportOut,
    ExportsOut,
    PrivacySettingsIn,
    PrivacySettingsOut,
    RedactionOut,
    RequestOut,
)
from app.privacy.service import ExportNotFound

router = admin_router("/api/v1/privacy", tags=["privacy"])
members_router = admin_router("/api/v1/members", tags=["privacy"])
_MAX_ID = 2**63 - 1


@members_router.post(
    "/{customer_id}/export",
    response_model=ExportOut,
    status_code=201,
    summary="Export everything Vafa holds on a member",
    responses=error_responses(MemberNotFound, ValidationFailed),
)
async def export_member(
    customer_id: CustomerId, shop: CurrentShop, session: WriteSession
) -> ExportOut:
    """The member's profile, every ledger line, balances, lots, holds, redemptions, orders and
    the stored webhooks about them, as one document; kept for ``GET /api/v1/privacy/exports``
    until the member is redacted."""
    request = await service.for_member_now(
        session, shop.shop_id, RequestKind.EXPORT, customer_id, source="api"
    )
    return ExportOut.of(request)


@members_router.post(
    "/{customer_id}/redact",
    response_model=RedactionOut,
    summary="Anonymise a member (a GDPR erasure)",
    responses=error_responses(MemberNotFound, ValidationFailed),
)
async def redact_member(
    customer_id: CustomerId, shop: CurrentShop, session: WriteSession
) -> RedactionOut:
    """Clears the member's e-mail, names, birthday and consent, anonymises the stored webhook
    bodies about them and erases earlier exports of them. Their points and ledger stay (under
    the platform's customer id), so balances and every ledger check are unchanged. Asking again
    changes nothing more."""
    request = await service.for_member_now(
        session, shop.shop_id, RequestKind.REDACT_CUSTOMER, customer_id, source="api"
    )
    return RedactionOut.of(request)


@router.get("/exports", response_model=ExportsOut, summary="The shop's exports, newest first",
            responses=error_responses(ValidationFailed))  # fmt: skip
async def list_exports(
    shop: CurrentShop,
    session: ReadSession,
    customer_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="only this customer's")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ExportsOut:
    """Every export asked for (by Shopify's customers/data_request or through this API), without
    their documents: ``GET /api/v1/privacy/exports/{id}`` gives one with its document."""
    found = await service.exports(session, shop.shop_id, customer_id=customer_id, limit=limit)
    return ExportsOut(exports=[RequestOut.of(request) for request in found])


@router.get(
    "/exports/{export_id}",
    response_model=ExportOut,
    summary="One export with its document",
    responses=error_responses(ExportNotFound, ValidationFailed),
)
async def get_export(
    export_id: Annotated[int, Path(ge=1, le=_MAX_ID)], shop: CurrentShop, session: ReadSession
) -> ExportOut:
    return ExportOut.of(await service.export(session, shop.shop_id, export_id))


@router.get("/settings", response_model=PrivacySettingsOut, summary="The shop's privacy settings")
async def get_settings(shop: CurrentShop, session: ReadSession) -> PrivacySettingsOut:
    days = await service.retention_days(session, shop.shop_id)
    return PrivacySettingsOut(webhook_body_retention_days=days)


@router.put(
    "/settings",
    response_model=PrivacySettingsOut,
    summary="Change the shop's privacy settings",
    responses=error_responses(InvalidRequest, PayloadTooLarge, ValidationFailed),
)
async def put_settings(
    body: PrivacySettingsIn, shop: CurrentShop, session: WriteSession
) -> PrivacySettingsOut:
    """``webhook_body_retention_days``: a processed webhook's raw body is emptied this many days
    after it came (by the scheduler); null keeps bodies, which replays and simulations need."""
    await service.set_retention_days(session, shop.shop_id, body.webhook_body_retention_days)
    return PrivacySettingsOut(webhook_body_retention_days=body.webhook_body_retention_days)
