"""Running a fake store: an ASGI app served by uvicorn on a free port in a background thread.

A thread (with its own event loop) rather than a task on the test's loop, so that the fake keeps
answering while a test blocks, works the same for sync code (a future ``make demo``), and a
delay injected into the fake never stalls the code under test. Shared by every fake store.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import httpx
import uvicorn
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

_START_TIMEOUT = 10.0


class ServedApp:
    """``with ServedApp(app) as served: served.url`` → ``http://127.0.0.1:<port>``.

    ``app`` may be replaced while the server runs: a test session starts one server and mounts
    each test's fresh fake on it (starting and stopping uvicorn costs a fifth of a second)."""

    def __init__(self, app: ASGIApp | None = None, host: str = "127.0.0.1") -> None:
        self.app = app
        self._host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))  # port 0: the kernel picks a free one
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            self._forward,
            # Leave the process's logging alone: uvicorn would otherwise set its loggers' levels
            # for every later test (and the app's own uvicorn in them).
            log_config=None,
            log_level=None,
            access_log=False,
            lifespan="off",
            interface="asgi3",
            loop="asyncio",
            http="h11",
            ws="none",
            # A request the test left sleeping in the fake must not hold up shutdown.
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            await PlainTextResponse("no fake is mounted", 503)(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> ServedApp:
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake store's server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(_START_TIMEOUT)
        self._socket.close()

    def __enter__(self) -> ServedApp:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class TlsTerminator(httpx.AsyncBaseTransport):
    """Plays a TLS-terminating proxy in front of a plain-HTTP fake, for code that (rightly)
    sends credentials only over ``https://``: requests to ``public_origin`` go to ``backend``
    over HTTP with ``X-Forwarded-Proto: https`` and the public ``Host`` header, as a reverse
    proxy forwards them to WordPress. Other requests pass through unchanged."""

    def __init__(
        self,
        public_origin: str,
        backend: str,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._public = httpx.URL(public_origin)
        if self._public.scheme != "https":
            raise ValueError("the public origin of a TLS terminator is an https:// URL")
        self._backend = httpx.URL(backend)
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme == "https" and (url.host, url.port) == (self._public.host, self._public.port):
            # The Host header was set from the public URL when the request was built: kept.
            request.url = url.copy_with(
                scheme="http", host=self._backend.host, port=self._backend.port
            )
            request.headers["X-Forwarded-Proto"] = "https"
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
