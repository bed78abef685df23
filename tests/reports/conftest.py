from tests.browser import browser, live
from tests.rewards.conftest import on_shopify, settings

__all__ = ["browser", "live", "on_shopify", "settings"]
