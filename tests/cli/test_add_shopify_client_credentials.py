"""`vafa shop add-shopify --client-id C --client-secret S`: a Dev Dashboard app's credentials,
with which Vafa obtains the shop's expiring tokens itself."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from app.cli import cli
from app.crypto import Vault
from tests.cli.test_cli import _fresh, _sql
from tests.conftest import SECRET_KEY

runner = CliRunner()


class TestAddShopifyWithClientCredentials:
    def test_the_client_id_and_secret_are_stored_sealed(self, env: str) -> None:
        _fresh(env)
        result = runner.invoke(
            cli,
            [
                "shop", "add-shopify", "--domain", "dev-app.myshopify.com",
                "--client-id", "client-id-abc", "--client-secret", "client-secret-xyz",
                "--api-url", "http://127.0.0.1:9/",
            ],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        shop = json.loads(result.stdout)
        assert shop["admin_api_key"].startswith(f"vafa_sk_{shop['shop_id']}_")
        assert "client-secret-xyz" not in result.output
        [(credentials, api_url)] = _sql(env, "SELECT credentials, api_url FROM shops")
        assert isinstance(credentials, str)
        assert "client-secret-xyz" not in credentials
        assert api_url == "http://127.0.0.1:9"
        opened = Vault(SECRET_KEY).open(credentials)
        assert opened["client_id"] == "client-id-abc"
        assert opened["client_secret"] == "client-secret-xyz"
        assert opened["api_secrets"] == ["client-secret-xyz"]  # it signs the webhooks too
        assert "access_token" not in opened  # obtained on first use

    def test_both_kinds_at_once_or_half_a_pair_is_a_clear_error(self, env: str) -> None:
        _fresh(env)
        both = runner.invoke(
            cli,
            [
                "shop", "add-shopify", "--domain", "a.myshopify.com", "--access-token", "t",
                "--api-secret", "s", "--client-id", "c", "--client-secret", "s",
            ],
        )  # fmt: skip
        assert both.exit_code == 1
        assert "not both" in both.output
        half = runner.invoke(
            cli, ["shop", "add-shopify", "--domain", "a.myshopify.com", "--client-id", "c"]
        )
        assert half.exit_code == 1
        assert "client secret" in half.output
        assert _sql(env, "SELECT count(*) FROM shops") == [(0,)]
