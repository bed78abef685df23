"""Every answer that is not a success, in one shape: ``{"error": {"code", "message"}}``.

The handlers here turn each kind of failure into that shape (the app's own errors, an unknown
path or method, a request that fails validation, an exhausted database pool, anything
unexpected), and :func:`error_responses` documents the same answers in the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import asyncpg
import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from app.errors import (
    AppError,
    DatabaseBusy,
    InvalidPayload,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    ValidationFailed,
)
from app.logs import log_failure, request_id

log = structlog.get_logger(__name__)

# How long a client should wait before retrying when every database connection is in use.
RETRY_AFTER_SECONDS = 2
_TOO_MANY_CONNECTIONS = "53300"  # PostgreSQL's SQLSTATE when max_connections is reached


class Problem(BaseModel):
    field: str = Field(examples=["body.points"])
    message: str = Field(examples=["Input should be less than or equal to 1000000000000"])


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable and stable", examples=["member_not_found"])
    message: str = Field(description="for a person to read")
    details: list[Problem] | None = Field(
        default=None, description="validation_error only: every field that was refused"
    )


class ErrorOut(BaseModel):
    """What every failed request is answered with."""

    error: ErrorDetail


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], raw: bytes) -> M:
    """A body read by the route itself (bounded, after its credentials were checked) as
    ``model``: not JSON is 400 ``invalid_payload``, a field refused is 422 ``validation_error``
    naming the first one, as FastAPI's own validation does."""
    try:
        return model.model_validate(orjson.loads(raw or b"null"))
    except orjson.JSONDecodeError as exc:
        raise InvalidPayload("the body is not valid JSON") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ValidationFailed(f"{where}: {first['msg']}") from exc


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[Problem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorOut(error=ErrorDetail(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


# What each error status means, as the API documentation says it.
_MEANINGS = {
    400: "The request cannot be carried out as sent",
    401: "No valid key or signature",
    404: "Not found",
    405: "Method not allowed here",
    409: "Conflicts with what was already done",
    413: "The body is too large",
    422: "A parameter or field is missing, malformed or out of range",
    503: "The database is busy: retry after `Retry-After` seconds",
}


def error_responses(
    *errors: type[AppError], examples: Mapping[type[AppError], str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route that may fail with ``errors``: per status, the
    :class:`ErrorOut` schema and an example per code (its ``example`` message unless
    ``examples`` gives this route's own)."""
    by_status: dict[int, list[type[AppError]]] = {}
    for error in errors:
        by_status.setdefault(error.status_code, []).append(error)
    documented: dict[int | str, dict[str, Any]] = {}
    for status, kinds in sorted(by_status.items()):
        codes = ", ".join(f"`{kind.code}`" for kind in kinds)
        answer: dict[str, Any] = {
            "model": ErrorOut,
            "description": f"{_MEANINGS.get(status, 'Failed')}: {codes}",
            "content": {
                "application/json": {
                    "examples": {
                        kind.code: {
                            "summary": kind.code,
                            "value": {
                                "error": {
                                    "code": kind.code,
                                    "message": (examples or {}).get(kind, kind.example),
                                }
                            },
                        }
                        for kind in kinds
                    }
                }
            },
        }
        if status == DatabaseBusy.status_code:
            answer["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "integer", "example": RETRY_AFTER_SECONDS},
                }
            }
        documented[status] = answer
    return documented


def is_database_busy(exc: BaseException) -> bool:
    """Every connection of a pool is in use, or the server refuses another one."""
    if isinstance(exc, (PoolTimeout, asyncpg.exceptions.TooManyConnectionsError)):
        return True
    if isinstance(exc, DBAPIError):
        # SQLAlchemy's wrapper of the driver's error, itself a wrapper of asyncpg's.
        return getattr(exc.orig, "sqlstate", None) == _TOO_MANY_CONNECTIONS
    return False


def _busy() -> JSONResponse:
    return error_response(
        DatabaseBusy.status_code,
        DatabaseBusy.code,
        DatabaseBusy.example,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


# The HTTP statuses the framework itself answers with (routing, body parsing).
_FRAMEWORK_ERRORS: dict[int, type[AppError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
}


def install(app: FastAPI) -> None:
    """Register the handlers that give every failure the error shape."""

    @app.exception_handler(AppError)
    async def app_error(_: Request, exc: AppError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message, headers=exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        kind = _FRAMEWORK_ERRORS.get(exc.status_code)
        path = request.url.path
        if exc.status_code == 404:
            message = f"no such path: {path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {path}"
        else:
            message = str(exc.detail)
        code = kind.code if kind is not None else f"http_{exc.status_code}"
        return error_response(exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            Problem(field=".".join(str(p) for p in e["loc"]), message=e["msg"])
            for e in exc.errors()
        ]
        first = problems[0] if problems else Problem(field="", message="invalid request")
        return error_response(
            ValidationFailed.status_code,
            ValidationFailed.code,
            f"{first.field}: {first.message}",
            details=problems,
        )

    async def database_busy(_: Request, exc: Exception) -> JSONResponse:
        if not is_database_busy(exc):
            raise exc  # any other database error: the unexpected failure below
        # The kind only: a database error's text can carry the statement's parameters.
        log.warning("database busy", error=type(exc).__name__)
        return _busy()

    for kind in (PoolTimeout, asyncpg.exceptions.TooManyConnectionsError, DBAPIError):
        app.add_exception_handler(kind, database_busy)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Nothing was acknowledged: a platform retries, an API caller may retry with its key.
        log_failure(log, "request failed", exc, level="error")
        # Starlette answers this one outside the access-log middleware, which adds the id.
        rid = request_id(request)
        headers = {"X-Request-ID": rid} if rid else None
        return error_response(500, AppError.code, AppError.example, headers=headers)
