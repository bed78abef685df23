"""``make demo`` runs the whole loop a newcomer is shown, from a clean start."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import FIXTURES

REPO = FIXTURES.parent.parent


class TestDemo:
    def test_the_demo_shows_a_code_on_each_store_and_the_balance_written_back(self) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "tests.fakes.demo"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        out = done.stdout
        assert "the fake Shopify holds VAFA-" in out
        assert "vafa.points on the Shopify customer: 81" in out  # 181 earned, 100 redeemed
        assert "the fake WooCommerce holds coupon" in out
        assert "vafa_points on the WooCommerce customer: 20" in out  # 120 earned, 100 redeemed
