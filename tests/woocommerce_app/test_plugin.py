"""The companion WordPress plugin (integrations/woocommerce/vafa-club): every file parses, its
PHPUnit suite passes, and a token it signs is one Vafa's side reads as the contract says
(HS256 with the shop's storefront secret, ``sub``/``iat``/``exp``, at most 15 minutes). PHP and
PHPUnit come from Debian's packages (php-cli, phpunit), which .ci/run installs."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import jwt
import pytest

from app.shops import service as shops
from app.state import AppState
from app.woocommerce_app import service
from tests.fakes.woocommerce import VAFA_SETTINGS, VAFA_SETTINGS_GROUP

PLUGIN = Path(__file__).parents[2] / "integrations" / "woocommerce" / "vafa-club"


def _php(*args: str) -> str:
    done = subprocess.run(["php", *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize(
    "source", sorted(PLUGIN.rglob("*.php")), ids=lambda p: str(p.relative_to(PLUGIN))
)
def test_every_php_file_parses(source: Path) -> None:
    assert "No syntax errors" in _php("-l", str(source))


def test_the_plugins_phpunit_suite_passes() -> None:
    done = subprocess.run(
        ["phpunit", "--configuration", str(PLUGIN / "phpunit.xml")],
        cwd=PLUGIN, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK (" in done.stdout


async def test_a_token_the_plugin_signs_is_read_with_the_shops_storefront_secret(
    state: AppState,
) -> None:
    async with state.db.write() as session:
        new = await shops.add_woocommerce(
            session, state.vault, url="https://shop.example", consumer_key="ck_1",
            consumer_secret="cs_1",
        )  # fmt: skip
    secret = new.storefront_secret
    assert secret is not None
    assert new.as_json()["storefront_secret"] == secret
    now = int(time.time())
    token = _php(
        "-r",
        f"require '{PLUGIN}/includes/class-vafa-token.php';"
        f" echo Vafa_Token::make($argv[1], '42', {now}, 3600);",
        "--",
        secret,
    )
    claims = jwt.decode(
        token, secret, algorithms=["HS256"], options={"require": ["exp", "iat", "sub"]}
    )
    assert claims == {"sub": "42", "iat": now, "exp": now + 900}  # asked for an hour: capped
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, secret + "x", algorithms=["HS256"])


def test_vafa_pushes_the_options_the_plugin_registers_and_the_fake_store_has_them() -> None:
    declared = json.loads(
        _php(
            "-r",
            f"require '{PLUGIN}/tests/bootstrap.php';"
            " echo json_encode([Vafa_Settings::GROUP, array_map(fn ($o) => [$o['id'],"
            " $o['type']], Vafa_Settings::rest_settings([]))]);",
        )
    )
    assert declared == [service.SETTINGS_GROUP, [[o, VAFA_SETTINGS[o]] for o in VAFA_SETTINGS]]
    assert VAFA_SETTINGS_GROUP == service.SETTINGS_GROUP
    assert tuple(VAFA_SETTINGS) == service.SETTINGS_OPTIONS
