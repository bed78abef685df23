"""The real Vafa app plus two baseline routes, for the benchmarks in this directory.

    uvicorn bench.baseline_app:app --host 127.0.0.1 --port 8000 --workers 1

``app`` is :func:`app.main.create_app` itself (settings from the ``VAFA_*`` environment, as
``vafa serve`` reads them), with two routes added to the same FastAPI app, so both share its
middleware, exception handlers and server:

- ``POST /bench/bare-webhook`` reads the body and checks its Shopify HMAC with the secret in
  ``VAFA_BENCH_API_SECRET`` (401 if wrong), and answers as the webhook endpoint does. No shop
  lookup, no parsing, no database: the floor under ``POST /webhooks/shopify``.
- ``POST /bench/bare-webhook-plain``: the same, served as the webhook endpoints are served
  (a plain Starlette route ahead of the FastAPI routes, see :mod:`app.webhooks.endpoints`),
  so that the intake's own cost can be told apart from the framework's. The issue's target is
  against ``/bench/bare-webhook``; this second floor is reported beside it.
- ``GET /bench/bare-json`` returns a constant member, through the same response model as
  ``GET /api/v1/members/{customer_id}``. No auth, no database: the floor under a balance read.
"""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response

from app.config import get_settings
from app.connectors._webhooks import hmac_sha256_base64_matches
from app.errors import Unauthorized
from app.logs import configure as configure_logs
from app.main import create_app
from app.members.schemas import MemberOut, Points
from app.webhooks.endpoints import Ack, ack, plain_routes

_settings = get_settings()
configure_logs(_settings.log_level, _settings.log_json)  # as `vafa serve` does
_SECRET = os.environ.get("VAFA_BENCH_API_SECRET", "").encode()
_POINTS = {"available": 1234, "pending": 0, "held": 0, "lifetime_earned": 5678}
_MEMBER = MemberOut(
    customer_id="6000000000042",
    # The fields this tree's document has (trees before ledger holds have no "held").
    points=Points(**{k: v for k, v in _POINTS.items() if k in Points.model_fields}),
    tier=None,
)

app = create_app(_settings)


async def _check_signature(request: Request) -> None:
    body = await request.body()
    if not hmac_sha256_base64_matches(
        body, request.headers.get("x-shopify-hmac-sha256"), [_SECRET]
    ):
        raise Unauthorized("the webhook signature is missing or invalid")


@app.post("/bench/bare-webhook", tags=["bench"])
async def bare_webhook(request: Request) -> Ack:
    await _check_signature(request)
    return Ack(status="accepted")


async def bare_webhook_plain(request: Request) -> Response:
    await _check_signature(request)
    return ack("accepted")


_plain = APIRouter(tags=["bench"])
_plain.add_api_route("/bench/bare-webhook-plain", bare_webhook_plain, methods=["POST"])
app.include_router(_plain)  # documented, and served as the webhooks are:
app.router.routes[:0] = plain_routes(_plain)


@app.get("/bench/bare-json", tags=["bench"], response_model=MemberOut)
async def bare_json() -> MemberOut:
    return _MEMBER
