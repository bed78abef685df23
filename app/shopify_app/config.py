"""What the app is: its credentials, the access it asks for, the topics it subscribes to and
the paths Shopify reaches it at. ``integrations/shopify/shopify.app.toml`` says the same to
Shopify CLI, and a test holds the two together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.config import Settings
from app.connectors.base import Platform
from app.errors import AppError
from app.sync.webhooks import TOPICS

# What the app asks the store owner for: orders and customers to read (points), customers to
# write (the balance metafield), discounts (reward codes), the app proxy (the widget) and
# products to read (a product's collections and type, which collection/type rules match).
SCOPES = (
    "read_orders",
    "read_customers",
    "write_customers",
    "write_discounts",
    "write_app_proxy",
    "read_products",
)
# The topics Vafa acts on (one list, app.sync's), and the uninstall.
WEBHOOK_TOPICS = (*TOPICS[Platform.SHOPIFY], "app/uninstalled")
# Mandatory for every app in the App Store; subscribed in the app's configuration only.
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")

INSTALL_PATH = "/shopify/install"
CALLBACK_PATH = "/shopify/callback"
TOKEN_EXCHANGE_PATH = "/shopify/token-exchange"
WEBHOOK_PATH = "/webhooks/shopify"
# The storefront's /apps/vafa is forwarded here (the app proxy).
PROXY_PREFIX, PROXY_SUBPATH = "apps", "vafa"
PROXY_PATH = "/storefront/shopify"


class AppNotConfigured(AppError):
    """The Shopify app's settings are missing: nothing can be installed."""

    status_code = 503
    code = "shopify_app_not_configured"
    example = "VAFA_SHOPIFY_CLIENT_ID and VAFA_SHOPIFY_CLIENT_SECRET are not set"


def _admin_url(shop: str) -> str:
    return f"https://{shop}"


@dataclass(frozen=True, slots=True)
class ShopifyApp:
    client_id: str
    client_secret: str = field(repr=False)  # never in a log line or traceback
    public_url: str | None = None
    # Where a shop's admin (OAuth, Admin API) is reached: the shop itself, or a local fake.
    admin_url: Callable[[str], str] = _admin_url

    @classmethod
    def from_settings(cls, settings: Settings) -> ShopifyApp | None:
        """The app the settings describe, or None when they describe none."""
        client_id = (settings.shopify_client_id or "").strip()
        client_secret = settings.shopify_client_secret or ""
        if not client_id or not client_secret:
            return None
        public_url = (settings.public_url or "").strip().rstrip("/") or None
        return cls(client_id, client_secret, public_url)

    def url(self, path: str) -> str:
        """``path`` on this Vafa, as Shopify reaches it (VAFA_PUBLIC_URL)."""
        if self.public_url is None:
            raise AppNotConfigured(
                "VAFA_PUBLIC_URL is not set, so Shopify cannot be told where to send the store "
                "owner back to: set it to the URL Shopify reaches this Vafa at"
            )
        return self.public_url + path


def configured(settings: Settings) -> ShopifyApp:
    app = ShopifyApp.from_settings(settings)
    if app is None:
        raise AppNotConfigured(
            "VAFA_SHOPIFY_CLIENT_ID and VAFA_SHOPIFY_CLIENT_SECRET are not set: Vafa is not a "
            "Shopify app on this server"
        )
    return app
