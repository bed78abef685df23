"""The privacy tests run on the shops of the rewards tests (on the fake stores), and run the
CLI with the environment an operator sets."""

from __future__ import annotations

from tests.cli.conftest import env
from tests.rewards.conftest import settings

__all__ = ["env", "settings"]
