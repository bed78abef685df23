"""`vafa serve` as a container starts it: the port from $PORT, proxies it is told to trust."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from app.cli import cli


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `vafa serve` hands to uvicorn (recorded instead of listening on a port)."""
    calls: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.update(options))
    return calls


class TestServeOptions:
    def test_port_and_trusted_proxies_come_from_the_environment(
        self, env: str, served: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PORT", "8123")
        monkeypatch.setenv("VAFA_FORWARDED_ALLOW_IPS", "10.0.0.7,10.0.0.8")
        result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])
        assert result.exit_code == 0, result.output
        assert (served["host"], served["port"]) == ("0.0.0.0", 8123)
        assert served["proxy_headers"] is True
        assert served["forwarded_allow_ips"] == "10.0.0.7,10.0.0.8"
        assert "http://0.0.0.0:8123" in result.output

    def test_defaults_trust_only_a_local_proxy_on_port_8000(
        self, env: str, served: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("PORT", raising=False)
        monkeypatch.delenv("VAFA_FORWARDED_ALLOW_IPS", raising=False)
        result = CliRunner().invoke(cli, ["serve", "--no-proxy-headers"])
        assert result.exit_code == 0, result.output
        assert (served["host"], served["port"]) == ("127.0.0.1", 8000)
        assert served["proxy_headers"] is False
        assert served["forwarded_allow_ips"] == "127.0.0.1"
