"""The ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from app import __version__
from app.admin.embedded import AdminFraming
from app.admin.events_pages import router as admin_events_router
from app.admin.imports_pages import router as admin_imports_router
from app.admin.pages import router as admin_pages_router
from app.admin.program_pages import router as admin_program_router
from app.admin.referrals_pages import router as admin_referrals_router
from app.admin.reports_pages import router as admin_reports_router
from app.admin.segments_pages import router as admin_segments_router
from app.api import docs
from app.api import errors as api_errors
from app.api.deps import State
from app.api.errors import ErrorOut, error_response, error_responses
from app.config import Settings, get_settings
from app.engage.endpoints import router as engage_router
from app.errors import (
    DatabaseBusy,
    PayloadTooLarge,
    Unauthorized,
    ValidationFailed,
)
from app.holdout.routes import ROUTERS as holdout_routers
from app.logs import RequestLog
from app.logs import configure as configure_logs
from app.members.endpoints import router as members_router
from app.metrics import metrics_endpoint
from app.privacy import endpoints as privacy
from app.program.endpoints import router as program_router
from app.program.simulate_endpoints import router as program_simulate_router
from app.referrals.endpoints import router as referrals_router
from app.reports.endpoints import router as reports_router
from app.rewards import waits as redemption_waits
from app.rewards.endpoints import router as rewards_router
from app.segments.endpoints import members_router as segments_members_router
from app.segments.endpoints import router as segments_router
from app.shopify_app.endpoints import router as shopify_app_router
from app.state import AppState, freeze_start_up
from app.storefront.cors import StorefrontCORS
from app.storefront.endpoints import router as storefront_router
from app.tiers.endpoints import router as tiers_router
from app.webhooks.endpoints import plain_routes
from app.webhooks.endpoints import router as webhooks_router
from app.webhooks.intake import UNAUTHORIZED
from app.widget.endpoints import router as widget_router
from app.woocommerce_app.endpoints import router as woocommerce_app_router

log = structlog.get_logger(__name__)


class Health(BaseModel):
    status: str


def create_app(settings: Settings | None = None, state: AppState | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logs(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        vafa = state or AppState.build(settings)
        app.state.vafa = vafa
        freeze_start_up()
        stop = asyncio.Event()
        # On PostgreSQL, redemptions settled by a `vafa worker` wake the requests waiting here.
        settled = redemption_waits.listener(vafa.db)
        if settled is not None:
            settled.start()
        task: asyncio.Task[None] | None = None
        if settings.run_worker_in_process:
            task = asyncio.create_task(vafa.worker.run_forever(stop, wake=vafa.wake_worker))
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if settled is not None:
                await settled.close()
            await vafa.intake.close()
            await vafa.balances.close()
            if state is None:
                await vafa.db.dispose()

    app = FastAPI(
        title="Vafa",
        version=__version__,
        summary="Customer club (loyalty points) for Shopify and WooCommerce stores",
        description='Errors are always `{"error": {"code": …, "message": …}}` with the '
        "matching HTTP status. The admin API (`/api/v1/…`) takes the shop's admin API key as "
        "`Authorization: Bearer <key>`.",
        lifespan=lifespan,
        docs_url=None,  # served from local files below
        redoc_url=None,
    )
    api_errors.install(app)
    docs.install(app)

    @app.get("/healthz", tags=["health"], summary="The process is up")
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        tags=["health"],
        summary="The database can be reached",
        responses={503: {"model": ErrorOut, "description": "database_unavailable"}},
    )
    async def readyz(vafa: State) -> JSONResponse:
        try:
            async with vafa.db.reader.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to reach the database means not ready
            log.warning("readiness check failed", error=type(exc).__name__)
            return error_response(503, "database_unavailable", "the database cannot be reached")
        return JSONResponse({"status": "ready"})

    if state is not None:
        # Tests and embedders pass their own state; it is usable without running the lifespan.
        app.state.vafa = state
    # Documents the webhook endpoints … (the 422 that FastAPI documents for a path parameter
    # is given the error schema too)
    webhook_errors = error_responses(
        Unauthorized,
        PayloadTooLarge,
        ValidationFailed,
        DatabaseBusy,
        examples={Unauthorized: UNAUTHORIZED},
    )
    app.include_router(webhooks_router, responses=webhook_errors)
    app.router.routes[:0] = plain_routes(webhooks_router)  # … which these serve (see the module)
    app.include_router(members_router)
    app.include_router(rewards_router)
    app.include_router(reports_router)
    app.include_router(shopify_app_router)
    app.include_router(woocommerce_app_router)
    app.include_router(storefront_router)
    app.include_router(widget_router)
    app.include_router(admin_pages_router)
    app.include_router(admin_program_router)
    app.include_router(admin_segments_router)
    app.include_router(admin_reports_router)
    app.include_router(admin_referrals_router)
    app.include_router(admin_events_router)
    app.include_router(admin_imports_router)
    app.include_router(tiers_router)
    app.include_router(privacy.router)
    app.include_router(privacy.members_router)
    app.include_router(program_router)
    app.include_router(engage_router)
    app.include_router(program_simulate_router)
    app.include_router(referrals_router)
    app.include_router(segments_router)
    app.include_router(segments_members_router)
    for holdout_router in holdout_routers:  # the holdout, its lift report and admin page
        app.include_router(holdout_router)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.add_middleware(StorefrontCORS)
    app.add_middleware(AdminFraming)
    app.add_middleware(RequestLog)
    return app
