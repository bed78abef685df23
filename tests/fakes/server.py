"""Serve an ASGI app with uvicorn on a free local port, in a background thread.

A thread of its own (with its own event loop) keeps the fake answering whatever the test's
loop is doing, and lets synchronous code (a CLI test, ``make demo``) use it just the same.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

_START_TIMEOUT_SECONDS = 10.0


class BackgroundServer:
    def __init__(self, app: Any, host: str = "127.0.0.1") -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=0,  # the OS picks a free port
            lifespan="off",
            ws="none",
            http="h11",
            loop="asyncio",
            log_level=None,  # nor the levels of uvicorn's loggers
            access_log=False,
            log_config=None,  # leave the process's logging as the test or the demo set it
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="fake-store", daemon=True)
        self.base_url = ""

    def _run(self) -> None:
        asyncio.run(self._server.serve())

    def start(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake store's server did not start")
            time.sleep(0.01)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``with serve(app) as base_url:`` the app answers at ``base_url`` inside the block."""
    server = BackgroundServer(app)
    try:
        yield server.start()
    finally:
        server.stop()


class Switch:
    """An ASGI app that hands each request to ``target``: one server for a whole test session,
    a fresh fake (fresh state) behind it for each test."""

    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.target is None:
            raise RuntimeError("no fake store behind this server now")
        await self.target(scope, receive, send)
