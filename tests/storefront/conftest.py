from tests.rewards.conftest import on_shopify, on_woo, settings, waiting_client

__all__ = ["on_shopify", "on_woo", "settings", "waiting_client"]
