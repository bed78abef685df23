"""What an operator reads: JSON lines when asked (uvicorn's included), one access line per
request, a traceback once, colours only on a terminal."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import structlog
import uvicorn
from fastapi import FastAPI

from app.config import Settings
from app.logs import configure, uvicorn_options
from app.main import create_app
from app.state import AppState
from tests.conftest import ShopifyShop, fixture_bytes

ORDER_FIXTURE = fixture_bytes("shopify/orders-create.json")


@pytest.fixture
def json_settings(settings: Settings) -> Iterator[Settings]:
    yield settings.model_copy(update={"log_json": True})
    configure(settings.log_level, settings.log_json)  # as every other test expects


def _output(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err


def _lines(output: str) -> list[dict[str, Any]]:
    """Every line parsed as JSON (fails on a line that is not)."""
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def _requests(lines: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == "request" and line["path"] == path]


class TestJsonLogs:
    def test_app_and_standard_library_records_are_json_lines(
        self, json_settings: Settings, capsys: pytest.CaptureFixture[str]
    ) -> None:
        configure(json_settings.log_level, json=True)
        structlog.get_logger("app.somewhere").warning("an app event", shop_id=7)
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 4242)
        app_line, server_line = _lines(_output(capsys))
        assert app_line["event"] == "an app event"
        assert (app_line["level"], app_line["shop_id"]) == ("warning", 7)
        assert server_line["event"] == "Started server process [4242]"
        assert (server_line["level"], server_line["logger"]) == ("info", "uvicorn.error")
        assert app_line["timestamp"].endswith("Z")
        assert server_line["timestamp"].endswith("Z")


class TestServedByUvicorn:
    @pytest.fixture(params=["vafa options", "uvicorn defaults"])
    async def served(
        self,
        request: pytest.FixtureRequest,
        json_settings: Settings,
        state: AppState,
        capsys: pytest.CaptureFixture[str],  # first, so that it captures uvicorn's own streams
    ) -> AsyncIterator[httpx.AsyncClient]:
        """The app under a real uvicorn server, started with :func:`uvicorn_options` or with
        uvicorn's own logging set-up (its handlers, its access log), which the app takes back
        when it starts."""
        options = uvicorn_options() if request.param == "vafa options" else {}
        app = create_app(json_settings, state)
        _add_failing_route(app)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="info", **options)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        for _ in range(500):  # at most 5 s
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started
        started = _output(capsys)
        if request.param == "vafa options":
            # Every line from the first: with uvicorn's defaults, the two it writes before the
            # app starts ("Started server process", "Waiting for application startup.") are its.
            assert "Started server process" in _lines(started)[0]["event"]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
        server.should_exit = True
        await task
        sock.close()

    async def test_every_line_is_json_and_a_request_has_one_access_line(
        self, served: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        r = await served.get("/healthz?email=jane@example.com", headers={"X-Request-ID": "abc-1"})
        assert r.headers["x-request-id"] == "abc-1"
        fresh = await served.get("/healthz")
        lines = _lines(_output(capsys))
        first, second = _requests(lines, "/healthz")  # no second line from uvicorn's access log
        assert (first["request_id"], first["status"], first["method"]) == ("abc-1", 200, "GET")
        assert isinstance(first["latency_ms"], float)
        assert second["request_id"] == fresh.headers["x-request-id"] != "abc-1"
        assert not any("jane" in json.dumps(line) for line in lines)  # the query is not logged

    async def test_a_failing_request_logs_one_traceback(
        self, served: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        r = await served.get("/boom")
        assert r.status_code == 500
        await asyncio.sleep(0.05)  # uvicorn logs the re-raised exception after answering
        captured = _output(capsys)
        lines = _lines(captured)
        assert captured.count("Traceback (most recent call last)") == 1
        assert captured.count("RuntimeError: boom") == 1
        [access] = _requests(lines, "/boom")
        assert (access["status"], access["error"]) == (500, "RuntimeError")
        # The server still says a request failed, pointing at the traceback above.
        [server] = [line for line in lines if line["event"].startswith("Exception in ASGI")]
        assert server["traceback"] == "logged above"


def _add_failing_route(app: FastAPI) -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/boom", boom)


class TestAccessLine:
    async def test_a_webhook_request_names_its_shop(
        self,
        json_settings: Settings,
        state: AppState,
        shopify_shop: ShopifyShop,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        app = create_app(json_settings, state)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vafa.test") as c:
            headers = shopify_shop.headers(ORDER_FIXTURE, "orders/paid")
            r = await c.post("/webhooks/shopify", content=ORDER_FIXTURE, headers=headers)
        assert r.status_code == 200
        [line] = _requests(_lines(_output(capsys)), "/webhooks/shopify")
        assert line["shop_id"] == shopify_shop.shop_id
        assert line["request_id"] == r.headers["x-request-id"]

    async def test_an_unusable_request_id_is_replaced(
        self, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        r = await client.get("/healthz", headers={"X-Request-ID": "x" * 500})
        assert len(r.headers["x-request-id"]) == 32


class TestColours:
    def test_no_colours_when_stderr_is_not_a_terminal(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        out = io.StringIO()
        monkeypatch.setattr("sys.stderr", out)
        configure()
        structlog.get_logger("app.x").warning("plain")
        assert "plain" in out.getvalue()
        assert "\x1b[" not in out.getvalue()

    def test_colours_on_a_terminal(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        class Terminal(io.StringIO):
            def isatty(self) -> bool:
                return True

        out = Terminal()
        monkeypatch.setattr("sys.stderr", out)
        configure()
        structlog.get_logger("app.x").warning("coloured")
        monkeypatch.undo()
        configure()
        assert "\x1b[" in out.getvalue()
