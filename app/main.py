"""The ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from app import __version__
from app.config import Settings, get_settings
from app.errors import AppError
from app.logs import RequestLog
from app.logs import configure as configure_logs
from app.members.endpoints import router as members_router
from app.metrics import metrics_endpoint
from app.state import AppState
from app.webhooks.endpoints import plain_routes
from app.webhooks.endpoints import router as webhooks_router

log = structlog.get_logger(__name__)


def _error(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


class Health(BaseModel):
    status: str


def create_app(settings: Settings | None = None, state: AppState | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logs(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        vafa = state or AppState.build(settings)
        app.state.vafa = vafa
        # Everything built so far (modules, routes, SQLAlchemy's mappers) lives as long as the
        # process: move it out of the collector's sight, so that its full collections do not
        # walk it again and again while requests wait (tens of milliseconds each).
        gc.collect()  # start-up's own garbage is not kept forever
        gc.freeze()
        stop = asyncio.Event()
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
            await vafa.intake.close()
            await vafa.balances.close()
            if state is None:
                await vafa.db.dispose()

    app = FastAPI(
        title="Vafa",
        version=__version__,
        summary="Customer club (loyalty points) for Shopify and WooCommerce stores",
        lifespan=lifespan,
    )

    @app.exception_handler(AppError)
    async def app_error(_: Request, exc: AppError) -> JSONResponse:
        return _error(exc.status_code, exc.code, exc.message)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Nothing was acknowledged: a platform retries, an API caller may retry with its key.
        log.exception("request failed", error=repr(exc))
        return _error(500, "internal_error", "the request could not be completed; try again")

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "", "message": "invalid request"}
        return _error(
            422,
            "validation_error",
            f"{first['field']}: {first['message']}",
            details=problems,
        )

    @app.get("/healthz", tags=["health"])
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get("/readyz", tags=["health"], responses={503: {"description": "database unreachable"}})
    async def readyz(request: Request) -> JSONResponse:
        vafa: AppState = request.app.state.vafa
        try:
            async with vafa.db.reader.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to reach the database means not ready
            log.warning("readiness check failed", error=repr(exc))
            return _error(503, "database_unavailable", "the database cannot be reached")
        return JSONResponse({"status": "ready"})

    if state is not None:
        # Tests and embedders pass their own state; it is usable without running the lifespan.
        app.state.vafa = state
    app.include_router(webhooks_router)  # documents the webhook endpoints …
    app.router.routes[:0] = plain_routes(webhooks_router)  # … which these serve (see the module)
    app.include_router(members_router)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.add_middleware(RequestLog)
    return app
