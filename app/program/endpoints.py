"""``/api/v1/program``: the shop's program document, its versions, and a new version."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Response
from fastapi.exceptions import RequestValidationError

from app.api.deps import CurrentShop, ReadSession, WriteSession
from app.api.errors import error_responses
from app.api.routing import admin_router
from app.errors import PayloadTooLarge, ValidationFailed
from app.orm import utcnow
from app.program import service, versions
from app.program.document import ProgramDocument
from app.program.schemas import ProgramVersionOut, ProgramVersionsOut

router = admin_router("/api/v1", tags=["program"])


@router.get(
    "/program",
    response_model=ProgramVersionOut,
    response_model_exclude_none=True,
    summary="The shop's program",
)
async def get_program(shop: CurrentShop, session: ReadSession) -> ProgramVersionOut:
    """The newest version (it may take effect later than now: see ``effective_at``)."""
    return ProgramVersionOut.of((await versions.load(session, shop.shop_id)).latest)


@router.get(
    "/program/versions",
    response_model=ProgramVersionsOut,
    response_model_exclude_none=True,
    summary="Every version of the shop's program",
)
async def list_versions(shop: CurrentShop, session: ReadSession) -> ProgramVersionsOut:
    history = await versions.load(session, shop.shop_id)
    return ProgramVersionsOut(versions=[ProgramVersionOut.of(v) for v in history.versions])


@router.put(
    "/program",
    response_model=ProgramVersionOut,
    response_model_exclude_none=True,
    status_code=201,
    summary="Publish a new version of the shop's program",
    responses={
        200: {
            "model": ProgramVersionOut,
            "description": "The same program as the newest version: nothing new was made",
        },  # fmt: skip
        **error_responses(PayloadTooLarge, ValidationFailed),
    },
)
async def put_program(
    document: ProgramDocument,
    shop: CurrentShop,
    session: WriteSession,
    response: Response,
    effective_at: Annotated[
        datetime | None,
        Query(
            description="when it takes effect, with its UTC offset (default: now); never "
            "in the past"
        ),  # fmt: skip
    ] = None,
) -> ProgramVersionOut:
    """Orders paid from ``effective_at`` on are judged by the new version; orders paid before
    keep the version they were judged by, refunds included. 201 with the new version; 200 with
    the newest one if the document is the same and no time is asked for."""
    if effective_at is not None and effective_at.utcoffset() is None:
        raise ValidationFailed(
            "effective_at: a time needs its UTC offset, e.g. 2027-01-01T00:00:00Z"
        )
    if problems := await service.segment_problems(session, shop.shop_id, document):
        raise RequestValidationError([{**p, "loc": ("body", *p["loc"])} for p in problems])
    version, created = await service.publish(
        session, shop.shop_id, document, utcnow(), effective_at
    )
    if not created:
        response.status_code = 200
    return ProgramVersionOut.of(version)
