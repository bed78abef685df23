import pytest

from app.config import Settings
from tests.admin.helpers import SHOPIFY_CLIENT_ID, SHOPIFY_CLIENT_SECRET
from tests.browser import browser, live

__all__ = ["browser", "live"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Vafa as a Shopify app too: the admin also opens inside the Shopify admin."""
    app = {"shopify_client_id": SHOPIFY_CLIENT_ID, "shopify_client_secret": SHOPIFY_CLIENT_SECRET}
    return settings.model_copy(update=app)
