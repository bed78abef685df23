from tests.rewards.conftest import on_shopify, settings

__all__ = ["on_shopify", "settings"]
