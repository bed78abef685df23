"""``/admin/import``: members with their opening balances from a CSV file (Vafa's, Smile.io's
or WPLoyalty's format), checked first and imported only when the store owner confirms.

The check is app/imports/members.py's dry run (every row judged as the import would, nothing
written); the page then carries the file itself, base64 in a hidden field, to the import, so
nothing is kept on the server in between and the import checks every row again. Importing is
idempotent (each member's opening balance once), so a confirmation sent twice changes nothing.
The body is bounded: a larger file is refused with a clear page, pointing at the CLI."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from app.admin.auth import AdminSession
from app.admin.pages import Signed, _checked, _page
from app.api.deps import State
from app.api.routing import _replay, read_at_most
from app.errors import InvalidRequest, PayloadTooLarge
from app.imports import members as importer
from app.state import AppState

router = APIRouter(prefix="/admin", include_in_schema=False)
MAX_FILE_BYTES = 2 * 1024 * 1024
# The file as base64 on the confirmation (4/3 of it), the form's other fields and boundaries.
MAX_BODY_BYTES = MAX_FILE_BYTES * 4 // 3 + 64 * 1024


async def _fields(request: Request) -> dict[str, str | bytes]:
    """The form's fields, the uploaded file's as bytes; the body read up to the bound only."""
    body = await read_at_most(request, MAX_BODY_BYTES)
    form = await Request(request.scope, _replay(body, request.receive)).form(
        max_files=1, max_fields=8, max_part_size=MAX_BODY_BYTES
    )
    fields: dict[str, str | bytes] = {}
    for name, value in form.multi_items():
        fields[name] = await value.read() if isinstance(value, UploadFile) else value
    await form.close()
    return fields


def _text(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


async def _import_page(
    request: Request, state: AppState, session: AdminSession, *, status: int = 200,
    **ctx: object,
) -> HTMLResponse:  # fmt: skip
    return await _page(request, state, "imports.html", session, page="import", status=status,
                       max_mb=MAX_FILE_BYTES // (1024 * 1024), **ctx)  # fmt: skip


@router.get("/import")
async def import_page(request: Request, state: State, session: Signed) -> HTMLResponse:
    return await _import_page(request, state, session)


@router.post("/import")
async def check_or_import(request: Request, state: State, session: Signed) -> Response:
    """``step=check`` with the uploaded ``file``: the dry run's report and a button to import;
    ``step=import`` with the checked ``content``: the import and its report."""
    try:
        fields = await _fields(request)
    except PayloadTooLarge:
        return await _import_page(request, state, session, status=413, error_key="import_too_big")
    csrf = fields.get("csrf")
    _checked(session, {"csrf": csrf if isinstance(csrf, str) else ""})
    importing = fields.get("step") == "import"
    raw = _content(fields, importing)
    if raw is None or not raw.strip():
        return await _import_page(request, state, session, status=422, error_key="import_no_file")
    if len(raw) > MAX_FILE_BYTES:
        return await _import_page(request, state, session, status=413, error_key="import_too_big")
    text = _text(raw)
    if text is None:
        return await _import_page(request, state, session, status=422,
                                  error_key="import_not_utf8")  # fmt: skip
    try:
        report = await importer.import_members(state.db, session.shop_id, text,
                                               dry_run=not importing)  # fmt: skip
    except InvalidRequest as exc:  # the header row names no known format
        return await _import_page(
            request, state, session, status=422, error_key="import_unknown_format",
            detail=exc.message,
        )  # fmt: skip
    return await _import_page(
        request, state, session, report=report, imported=importing,
        content=base64.b64encode(raw).decode() if not importing else "",
        note_key="import_done" if importing else None,
    )  # fmt: skip


def _content(fields: dict[str, str | bytes], importing: bool) -> bytes | None:
    """The file: uploaded (the check), or carried back from the check's page (the import)."""
    if not importing:
        upload = fields.get("file")
        return upload if isinstance(upload, bytes) else None
    carried = fields.get("content")
    if not isinstance(carried, str):
        return None
    try:
        return base64.b64decode(carried, validate=True)
    except (binascii.Error, ValueError):
        return None
