"""``vafa segments list|refresh`` as an operator runs them."""

from __future__ import annotations

import json

from app.cli import cli
from tests.cli.test_cli import _add_shopify, _fresh, _sql, runner


def test_refresh_then_list_prints_the_sizes(env: str) -> None:
    _fresh(env)
    added = _add_shopify("segments-cli.myshopify.com")
    assert added.exit_code == 0, added.output
    shop = json.loads(added.stdout)["shop_id"]
    _sql(env, "INSERT INTO members (shop_id, customer_id, created_at) "
              f"VALUES ({shop}, '7', CURRENT_TIMESTAMP)")  # fmt: skip
    _sql(env, "INSERT INTO orders (shop_id, order_id, known, customer_id, exponent, "
              "merchandise_minor, shipping_minor, tax_minor, financial_state, cancelled, "
              f"deleted, backfilled, paid_at) VALUES ({shop}, '1', true, '7', 2, 500, 0, 0, "
              "'paid', false, false, false, CURRENT_TIMESTAMP)")  # fmt: skip
    done = runner.invoke(cli, ["segments", "refresh", "--shop", str(shop)])
    assert done.exit_code == 0, done.output
    refreshed = json.loads(done.stdout)
    assert (refreshed["members"], refreshed["entered"]) == (1, 1)
    assert refreshed["sizes"]["new"] == 1  # a first order today
    listed = runner.invoke(cli, ["segments", "list", "--shop", str(shop)])
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["key"], r["members"]) for r in rows] == [
        ("high_value", 0), ("loyal", 0), ("new", 1), ("at_risk", 0), ("hibernating", 0),
    ]  # fmt: skip


def test_an_unknown_shop_is_an_error(env: str) -> None:
    _fresh(env)
    result = runner.invoke(cli, ["segments", "refresh", "--shop", "999"])
    assert result.exit_code == 1
    assert "no shop 999" in result.output
