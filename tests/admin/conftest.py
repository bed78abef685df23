from tests.browser import browser, live

__all__ = ["browser", "live"]
