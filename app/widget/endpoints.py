"""``GET /widget/v1/vafa.js``: the widget, read once per process, cached by browsers for a week
and revalidated by its ETag (the file changes only with a Vafa release)."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Request, Response

router = APIRouter(prefix="/widget", tags=["widget"])
CACHE_CONTROL = "public, max-age=604800, stale-while-revalidate=86400"


@cache
def _script() -> tuple[bytes, str]:
    body = files("app.widget").joinpath("static/vafa.js").read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@router.get(
    "/v1/vafa.js",
    summary="The storefront widget (a web component)",
    responses={200: {"content": {"text/javascript": {}}}, 304: {"description": "Not modified"}},
)
async def widget(request: Request) -> Response:
    body, etag = _script()
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Access-Control-Allow-Origin": "*"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)
