"""Structured logs (structlog), and one access line per request.

Secrets never reach a log line: credentials are only ever decrypted into ShopContext, which is
not logged, and webhook bodies are not logged. The standard library's loggers (uvicorn's,
SQLAlchemy's, alembic's) go through the same renderer, so ``VAFA_LOG_JSON=true`` makes every
line JSON. Colours only when stderr is a terminal.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import uuid
from time import perf_counter
from typing import Any, TextIO, cast

import orjson
import structlog
from sqlalchemy.exc import StatementError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.types import EventDict, WrappedLogger

# Where the request's id and shop are kept for the access line (the ASGI scope of the request).
REQUEST_ID_KEY = "vafa.request_id"
SHOP_ID_KEY = "vafa.shop_id"
# An incoming X-Request-ID is kept only when it is a plain token: it is written to every line.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")
_LOGGED = "_vafa_traceback_logged"


class _Stderr:
    """The current ``sys.stderr`` at each write, not the one there when logging was set up
    (pytest, and anyone who redirects it, swaps the object)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_STDERR = cast(TextIO, _Stderr())


def _traceback_once(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """A traceback is printed the first time its exception is logged only: the app's handler
    logs a failed request, then Starlette re-raises it and uvicorn logs it again."""
    info = event.get("exc_info")
    exc: BaseException | None = None
    if info is True:
        exc = sys.exc_info()[1]
    elif isinstance(info, BaseException):
        exc = info
    elif isinstance(info, tuple):
        exc = info[1]
    if exc is None:
        return event
    if getattr(exc, _LOGGED, False):
        del event["exc_info"]
        event["traceback"] = "logged above"
        return event
    with contextlib.suppress(AttributeError, TypeError):  # a type that takes no attributes
        setattr(exc, _LOGGED, True)
    return event


def _json(_: WrappedLogger, __: str, event: EventDict) -> str:
    return orjson.dumps(event, default=repr).decode()


class _Renderer:
    """The last step of both chains. Switched by :func:`configure`, so that loggers structlog
    has already cached (module-level ``log = get_logger()``) follow a later configuration."""

    def __init__(self) -> None:
        self.json = False
        self.console = self._console(colors=False)

    @staticmethod
    def _console(colors: bool) -> structlog.dev.ConsoleRenderer:
        # Plain tracebacks only: a "rich" one prints every frame's local variables, and a local
        # can hold a decrypted access token.
        return structlog.dev.ConsoleRenderer(
            colors=colors, exception_formatter=structlog.dev.plain_traceback
        )

    def set(self, json: bool, colors: bool) -> None:
        self.json = json
        self.console = self._console(colors)

    def __call__(self, logger: WrappedLogger, name: str, event: EventDict) -> str:
        if self.json:
            return _json(logger, name, structlog.processors.format_exc_info(logger, name, event))
        return self.console(logger, name, event)


_RENDER = _Renderer()
_TIMESTAMP = structlog.processors.TimeStamper(fmt="iso", utc=True)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler this module installs (told apart from others, e.g. pytest's)."""


def configure(level: str = "info", json: bool = False) -> None:
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    _RENDER.set(json=json, colors=not json and _is_terminal())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _TIMESTAMP,
            _traceback_once,
            _RENDER,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=_STDERR),
        cache_logger_on_first_use=True,
    )
    handler = _Handler(_STDERR)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                _TIMESTAMP,
                _traceback_once,
            ],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _RENDER],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # Their INFO line per outbound call names URLs, whose query strings may hold personal data.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    # Alembic narrates every migration step at INFO; `vafa migrate` says what it did itself.
    logging.getLogger("alembic").setLevel(max(numeric, logging.WARNING))
    _claim_server_loggers()


def _claim_server_loggers() -> None:
    """uvicorn's loggers through the root handler, and no access log of its own: the access
    line is :class:`RequestLog`'s, uvicorn's would be a second line per request."""
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False


def uvicorn_options() -> dict[str, Any]:
    """What ``uvicorn.run`` needs so that it keeps the logging set up here: no logging
    configuration of its own (it would replace the handlers) and no access log."""
    return {"log_config": None, "access_log": False}


def _is_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def note_shop(request: Request, shop_id: int) -> None:
    """Name the request's shop on its access line."""
    request.scope[SHOP_ID_KEY] = shop_id


def request_id(request: Request) -> str | None:
    """The id the access line and the ``X-Request-ID`` answer header carry."""
    value = request.scope.get(REQUEST_ID_KEY)
    return value if isinstance(value, str) else None


access_log = structlog.get_logger("vafa.access")


class RequestLog:
    """One line per request: request id (the caller's ``X-Request-ID`` if it sent a usable
    one, else a new one, echoed in the answer), method, path without its query string (it may
    carry personal data) and without a sign-in link's token (:func:`logged_path`), status,
    latency and the shop when known. The id is bound for every line logged while the request
    runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                # A server started without uvicorn_options() set up its own handlers after
                # the app was built: take its loggers back before the first request.
                _claim_server_loggers()
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        rid = _incoming_id(scope) or uuid.uuid4().hex
        scope[REQUEST_ID_KEY] = rid
        header = (b"x-request-id", rid.encode())
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(request_id=rid)
        error: str | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as exc:
            error = type(exc).__name__  # the kind only: the message may hold bound values
            raise
        finally:
            extra: dict[str, Any] = {}
            if (shop_id := scope.get(SHOP_ID_KEY)) is not None:
                extra["shop_id"] = shop_id
            if error is not None:
                extra["error"] = error
            access_log.info(
                "request",
                method=scope["method"],
                path=logged_path(scope["path"]),
                # Not started when the app raised: the server error handler answers 500.
                status=status if status is not None else 500,
                latency_ms=round((perf_counter() - started) * 1000, 2),
                **extra,
            )
            structlog.contextvars.reset_contextvars(**tokens)


# Paths that carry a credential: written to the access line without it.
_SECRET_IN_PATH = (re.compile(r"^(/admin/link/[^/]*/)[^/]+"),)  # a one-time sign-in link


def logged_path(path: str) -> str:
    for pattern in _SECRET_IN_PATH:
        path = pattern.sub(r"\1[redacted]", path)
    return path


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.fullmatch(text) else None
    return None


def describe(exc: BaseException) -> str:
    """An error as it may be recorded and logged: its kind and message, never the values a
    failed statement was bound to (a customer's e-mail, say). A database error gives its kind,
    the driver's error and the driver's message up to its first colon: PostgreSQL and SQLite
    put the offending value after one ("invalid input syntax for type bigint: \\"…\\"")."""
    if isinstance(exc, StatementError):
        orig = exc.orig
        if orig is None:
            return type(exc).__name__
        # asyncpg's errors come wrapped by SQLAlchemy's adapter: name the original
        driver = getattr(orig, "__cause__", None) or orig
        sqlstate = getattr(driver, "sqlstate", None) or getattr(orig, "sqlstate", None)
        message = str(driver).split("\n", 1)[0].split(":", 1)[0].strip()
        state = f", SQLSTATE {sqlstate}" if sqlstate else ""
        return f"{type(exc).__name__} ({type(driver).__name__}{state}): {message}"
    return f"{type(exc).__name__}: {exc}"


def _database_error_in(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, StatementError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def log_failure(
    logger: Any, message: str, exc: BaseException, *, level: str = "warning", **ids: Any
) -> None:
    """Log a failure with the row's ids: the error as :func:`describe` gives it, without a
    traceback, when a database error is in it (its text carries the bound values); else its
    kind and the traceback, which carries the message."""
    emit = getattr(logger, level)
    if _database_error_in(exc):
        emit(message, error=describe(exc), **ids)
    else:
        emit(message, error=type(exc).__name__, exc_info=exc, **ids)
